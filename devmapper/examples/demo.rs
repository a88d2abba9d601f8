//! A short tour of the safe Rust API: create a zero device, read it back,
//! send a message, list devices, remove it. Needs root and device-mapper
//! (`make demo` runs it inside the test VM).

use devmapper::dm::{DevId, DeviceMapper, RemoveOptions, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dm = DeviceMapper::new()?;
    let v = dm.version()?;
    println!("driver interface {}.{}.{}", v[0], v[1], v[2]);

    let name = "rust-demo";
    let info = dm.create_with_table(
        name,
        Some("DEMO-rust-0001"),
        &[Target::new(0, 8192, "zero", "")],
        false,
    )?;
    println!("created {name} as {}:{}", info.major, info.minor);

    let id = DevId::name(name);
    for t in dm.table(&id, false)? {
        println!("table:  {t:?}");
    }
    dm.target_message(&id, 0, "@stats_create - /4")?;
    println!(
        "stats:  {}",
        dm.target_message(&id, 0, "@stats_list")?
            .unwrap_or_default()
            .trim()
    );
    for d in dm.list_devices()? {
        println!(
            "listed: {} {}:{} uuid={:?} event={:?}",
            d.name, d.major, d.minor, d.uuid, d.event_nr
        );
    }
    match dm.deviceless_message("linear", "%Hello") {
        Ok(r) => println!("deviceless linear %Hello -> {r:?}"),
        Err(e) => println!("deviceless linear %Hello -> {e}"),
    }
    dm.remove(&id, RemoveOptions::default())?;
    println!("removed {name}; info now: {}", dm.info(&id).unwrap_err());
    Ok(())
}
