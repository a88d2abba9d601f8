//! A short tour of the typed Rust API: create a zero device, read it back,
//! send a message, list devices, remove it. Needs root and device-mapper
//! (`make demo` runs it inside the test VM).

use devmapper::{DevId, DeviceMapper, DmName, DmUuid, RemoveOptions, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dm = DeviceMapper::new()?;
    let v = dm.version()?;
    println!("driver interface {}.{}.{}", v[0], v[1], v[2]);

    let name = DmName::new("rust-demo")?;
    let uuid = DmUuid::new("DEMO-rust-0001")?;
    let info = dm.create_with_table(
        &name,
        Some(&uuid),
        &[Target::new(0, 8192, "zero", "")],
        false,
    )?;
    println!("created {name} as {}:{}", info.major, info.minor);

    let id = DevId::Name(name.clone());
    for t in dm.table(&id, false)? {
        println!("table:  {t:?}");
    }
    dm.target_message(&id, 0, b"@stats_create - /4")?;
    let list = dm
        .target_message(&id, 0, b"@stats_list")?
        .unwrap_or_default();
    println!("stats:  {}", String::from_utf8_lossy(&list).trim());
    for d in dm.list_devices()? {
        println!(
            "listed: {} {}:{} uuid={:?} event={:?}",
            String::from_utf8_lossy(&d.name),
            d.major,
            d.minor,
            d.uuid.as_deref().map(String::from_utf8_lossy),
            d.event_nr
        );
    }
    match dm.deviceless_message("linear", b"%Hello") {
        Ok(r) => println!(
            "deviceless linear %Hello -> {:?}",
            r.as_deref().map(String::from_utf8_lossy)
        ),
        Err(e) => println!("deviceless linear %Hello -> {e}"),
    }
    dm.remove(&id, RemoveOptions::default())?;
    println!("removed {name}; info now: {}", dm.info(&id).unwrap_err());
    Ok(())
}
