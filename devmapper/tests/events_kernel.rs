//! Device-mapper events through `poll()` on the control descriptor
//! (`DeviceMapper::arm_poll`, `control_fd`, `poll_event`) against a real
//! kernel.
//!
//! The kernel's event counter is global: any dm ioctl that creates,
//! removes, renames or swaps a table anywhere raises it. So the tests of
//! this file run one at a time (a lock), and it is a test binary of its
//! own (`vm/tests.sh` runs the binaries one after the other); nothing else
//! may drive device-mapper meanwhile.
//!
//! Ignored by default; run in the test VM (`vm/tests.sh`, or
//! `vm/tests/rust-kernel.sh <test binary>`).

use devmapper::targets::messages::MultipathMessage;
use devmapper::targets::{DevRef, MultipathParams, MultipathPath, PathGroup, Table, Target};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, DevId, DeviceMapper, DmName, RemoveOptions};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// Removes the named devices (last first) when dropped.
struct Cleanup(Vec<DmName>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(dm) = DeviceMapper::new() {
            for n in self.0.iter().rev() {
                let _ = dm.remove(
                    &DevId::Name(n.clone()),
                    RemoveOptions {
                        retry: true,
                        ..Default::default()
                    },
                );
            }
        }
    }
}

fn name(t: &str) -> DmName {
    DmName::new(format!("rsevt-{t}-{}", std::process::id())).unwrap()
}

const NOW: Option<Duration> = Some(Duration::ZERO);
const A_WHILE: Option<Duration> = Some(Duration::from_secs(30));

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn table_swap_raises_pollin() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dm = DeviceMapper::new().unwrap();
    let n = name("swap");
    let _c = Cleanup(vec![n.clone()]);
    let zero = Table::single(Sectors(8), Target::Zero).unwrap();
    let dev = dm
        .create_device(&n, &CreateOptions::default(), &zero)
        .unwrap();

    // The descriptor is the one the ioctls use, and stays the same.
    let fd = dm.control_fd().unwrap();
    assert_eq!(fd.as_raw_fd(), dm.control_fd().unwrap().as_raw_fd());

    // The creation above is an event this descriptor has not seen: armed,
    // nothing is pending.
    dm.arm_poll().unwrap();
    assert!(!dm.poll_event(NOW).unwrap(), "an event without a cause");
    // Reading the devices raises nothing.
    dev.info().unwrap();
    dev.status().unwrap();
    assert!(!dm.poll_event(NOW).unwrap());

    // A table swap (load + suspend + resume) binds a new table: an event.
    dev.replace_table(&Table::single(Sectors(16), Target::Zero).unwrap())
        .unwrap();
    assert!(
        dm.poll_event(A_WHILE).unwrap(),
        "no POLLIN after a table swap"
    );
    // It stays readable until re-armed.
    assert!(dm.poll_event(NOW).unwrap());
    dm.arm_poll().unwrap();
    assert!(!dm.poll_event(NOW).unwrap());

    // Removing a device is one too; a short timeout before it times out.
    assert!(!dm.poll_event(Some(Duration::from_millis(50))).unwrap());
    dev.remove(RemoveOptions::default()).unwrap();
    assert!(dm.poll_event(A_WHILE).unwrap(), "no POLLIN after a removal");
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn a_target_event_raises_pollin_and_event_nr() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dm = DeviceMapper::new().unwrap();
    if dm.target_version("multipath").is_err() {
        eprintln!("skipped: no multipath target");
        return;
    }
    let file = format!("/tmp/rsevt-{}.img", std::process::id());
    std::fs::File::create(&file)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let out = Command::new("losetup")
        .args(["-f", "--show", &file])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lo = String::from_utf8(out.stdout).unwrap().trim().to_string();
    struct Detach(String, String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.0]).status();
            let _ = std::fs::remove_file(&self.1);
        }
    }
    let _d = Detach(lo.clone(), file);
    let path = DevRef::from_node(&lo).unwrap();

    let n = name("mpath");
    let _c = Cleanup(vec![n.clone()]);
    let params = MultipathParams {
        features: Default::default(),
        hw_handler: None,
        initial_group: 1,
        groups: vec![PathGroup {
            selector: b"round-robin".to_vec(),
            selector_args: Vec::new(),
            path_args: 0,
            paths: vec![MultipathPath {
                device: path.clone(),
                args: Vec::new(),
            }],
        }],
    };
    let dev = dm
        .create_device(
            &n,
            &CreateOptions::default(),
            &Table::single(Sectors(8 << 11), params).unwrap(),
        )
        .unwrap();
    let before = dev.info().unwrap().event_nr;
    dm.arm_poll().unwrap();
    assert!(!dm.poll_event(NOW).unwrap());

    // Failing a path makes multipath raise a table event (from a work
    // queue, so it may come a little later): the device's event number
    // goes up and the control descriptor polls readable.
    dev.send(&MultipathMessage::FailPath(path)).unwrap();
    assert!(dm.poll_event(A_WHILE).unwrap(), "no POLLIN after fail_path");
    let after = dev.info().unwrap().event_nr;
    assert!(after > before, "event_nr {before} -> {after}");
    // wait_event agrees: it returns at once for the old number.
    let (info, _) = dev.wait_event(before).unwrap();
    assert_eq!(info.event_nr, after);
}
