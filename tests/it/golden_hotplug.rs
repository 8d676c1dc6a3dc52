//! Goldens of the human monitor's pre-qdev hotplug and machine-setting
//! commands (`pci_add`, `pci_del`, `drive_add`, `drive_del`, `host_net_add`,
//! `host_net_remove`, `boot_set`, `singlestep`, `snapshot_blkdev`), one
//! snapshot per command family (`golden/hmp__*.snap`) with the QMP queries
//! that show their effects, plus assertions of those effects through QMP.

use qmpsim::machine::config::MachineConfig;
use qmpsim::scenario::run;

use crate::golden_hmp::{lines, timed};
use crate::support::{hda_only, hmp_or_raw, image, opts, snap, Step};

use Step::{AdvanceMs, Hmp, Probe, Send};

/// A VM with `-no-acpi`: its PCI bus takes no hotplugged device.
fn no_acpi() -> MachineConfig {
    MachineConfig {
        no_acpi: true,
        ..MachineConfig::default()
    }
}

/// `-drive file=/img/base.img,if=virtio` of a 1 GiB raw image.
fn virtio_base() -> MachineConfig {
    MachineConfig {
        drives: vec![qmpsim::machine::config::DriveConfig {
            opts: opts(&[("file", "/img/base.img"), ("if", "virtio")]),
            probe: Some(qmpsim::machine::config::ImageProbe::Found(image(
                "raw",
                1 << 30,
            ))),
        }],
        ..MachineConfig::default()
    }
}

/// The reply to the last of `requests` (HMP lines, or raw QMP when they start
/// with `{`) on a fresh negotiated session.
fn last_reply(config: MachineConfig, requests: &[&str]) -> serde_json::Value {
    let sent = hmp_or_raw(requests);
    let refs: Vec<&str> = sent.iter().map(String::as_str).collect();
    let text = run(config, true, &refs).text;
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("<- "))
        .rfind(|l| l.contains("\"return\"") || l.contains("\"error\""))
        .expect("a reply");
    serde_json::from_str(last).expect("replies are JSON")
}

#[test]
fn golden_hmp_pci_add_nic() {
    snap(
        "hmp__pci_add_nic",
        &timed(
            MachineConfig::default(),
            &[
                Hmp("pci_add auto nic"),
                Hmp("pci_add pci_addr=auto nic model=e1000,vlan=1"),
                Hmp("pci_add 0:0:1f nic model=virtio,macaddr=52:54:00:ab:cd:ef"),
                Hmp("pci_add 3 nic"),
                Hmp("pci_add 1:3 nic"),
                Hmp("pci_add zz nic"),
                Hmp("pci_add auto nic model=bogus"),
                Hmp("pci_add auto nic macaddr=52:54"),
                Hmp("pci_add auto nic addr=6"),
                Hmp("pci_add auto nic speed=fast"),
                Hmp("pci_add auto nic netdev=nosuch"),
                Hmp("pci_add auto disk"),
                Hmp("info network"),
                AdvanceMs(2_000),
                Send(r#"{"execute":"query-pci"}"#),
            ],
        ),
    );
}

#[test]
fn golden_hmp_pci_add_nic_past_nd_table() {
    snap(
        "hmp__pci_add_nic_past_nd_table",
        &lines(
            MachineConfig::default(),
            &[
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "pci_add auto nic",
                "info network",
            ],
        ),
    );
}

#[test]
fn golden_hmp_pci_add_without_hotplug() {
    snap(
        "hmp__pci_add_without_hotplug",
        &lines(no_acpi(), &["pci_add auto nic", "pci_del 3"]),
    );
}

#[test]
fn golden_hmp_pci_add_storage() {
    snap(
        "hmp__pci_add_storage",
        &timed(
            MachineConfig::default(),
            &[
                Hmp("pci_add auto storage"),
                Hmp("pci_add auto storage if=ide"),
                Hmp("pci_add auto storage if=virtio"),
                Probe("/img/data.qcow2", image("qcow2", 8 << 30)),
                Hmp("pci_add auto storage file=/img/data.qcow2,if=virtio"),
                Hmp("pci_add auto storage if=scsi"),
                Hmp("pci_add auto storage file=/img/data.qcow2,if=scsi,unit=2"),
                Hmp("pci_add auto storage file=/img/missing.img,if=virtio"),
                Hmp("pci_add auto storage file=/img/data.qcow2,if=virtio,addr=9"),
                Send(r#"{"execute":"query-block"}"#),
                AdvanceMs(2_000),
                Send(r#"{"execute":"query-pci"}"#),
            ],
        ),
    );
}

#[test]
fn golden_hmp_pci_del() {
    snap(
        "hmp__pci_del",
        &timed(
            MachineConfig::default(),
            &[
                Hmp("pci_add auto nic"),
                AdvanceMs(2_000),
                Hmp("pci_del 4"),
                Hmp("pci_del 0:0:1e"),
                Hmp("pci_del 1"),
                Hmp("pci_del q"),
                AdvanceMs(2_000),
                Send(r#"{"execute":"query-pci"}"#),
                Hmp("info network"),
            ],
        ),
    );
}

#[test]
fn golden_hmp_drive_add_and_del() {
    let disk = hda_only("/img/hd.img", image("raw", 1 << 30));
    snap(
        "hmp__drive_add_and_del",
        &timed(
            disk,
            &[
                Hmp("drive_add 0 if=none,id=spare"),
                Hmp("drive_add 0 if=none,id=spare"),
                Hmp("drive_add 0 if=none,id=9bad"),
                Hmp("drive_add 0 if=ide"),
                Hmp("drive_add 0 if=none,cache=fast"),
                Hmp("drive_add 0 if=none,index=x"),
                Hmp("drive_add 0 if=none,speed=1"),
                Hmp("drive_add 0 file=/img/none.img,if=none"),
                Probe("/img/extra.img", image("raw", 2 << 30)),
                Hmp("drive_add 0 file=/img/extra.img,if=none,format=qcow2"),
                Hmp("pci_add auto storage if=scsi"),
                Hmp("drive_add 4 file=/img/extra.img,if=scsi"),
                Hmp("drive_add 4 file=/img/extra.img,if=scsi,unit=5"),
                Hmp("drive_add 1e file=/img/extra.img,if=scsi"),
                Hmp("drive_add 3 file=/img/extra.img,if=scsi"),
                Hmp("drive_add q file=/img/extra.img,if=scsi"),
                Hmp("drive_add 4 if=none,addr=3"),
                Send(r#"{"execute":"query-block"}"#),
                Hmp("drive_del ide0-hd0"),
                Hmp("drive_del spare"),
                Hmp("drive_del nosuch"),
                Hmp("info block"),
            ],
        ),
    );
}

#[test]
fn golden_hmp_host_net() {
    snap(
        "hmp__host_net",
        &lines(
            MachineConfig::default(),
            &[
                "host_net_add user vlan=2,name=u2",
                "host_net_add tap vlan=3",
                "host_net_add socket listen=:5555",
                "host_net_add socket listen=:5555",
                "host_net_add socket",
                "host_net_add user speed=fast",
                "host_net_add nic",
                "host_net_add tapx",
                "info network",
                "host_net_remove 2 u2",
                "host_net_remove 2 u2",
                "host_net_remove 9 user.0",
                "host_net_remove 0 e1000.0",
                "host_net_remove 0 user.0",
                "info network",
            ],
        ),
    );
}

#[test]
fn golden_hmp_boot_set_and_singlestep() {
    snap(
        "hmp__boot_set_and_singlestep",
        &lines(
            MachineConfig::default(),
            &[
                "boot_set cdn",
                "boot_set a",
                "boot_set cdna",
                "boot_set cx",
                "singlestep",
                r#"{"execute":"query-status"}"#,
                "info status",
                "singlestep off",
                r#"{"execute":"query-status"}"#,
                "singlestep on",
                "singlestep maybe",
                r#"{"execute":"query-status"}"#,
            ],
        ),
    );
}

#[test]
fn golden_hmp_snapshot_blkdev() {
    snap(
        "hmp__snapshot_blkdev",
        &lines(
            virtio_base(),
            &[
                "snapshot_blkdev virtio0",
                "snapshot_blkdev nosuch /img/s.qcow2",
                "snapshot_blkdev virtio0 /img/s.qcow2 nosuchfmt",
                "snapshot_blkdev ide1-cd0 /img/cd.qcow2",
                "snapshot_blkdev virtio0 /img/s.raw raw",
                "snapshot_blkdev virtio0 /img/s.qed qed",
                "snapshot_blkdev virtio0 /img/s.qcow2",
                r#"{"execute":"query-block"}"#,
                "info block",
            ],
        ),
    );
}

#[test]
fn singlestep_shows_in_query_status() {
    let reply = last_reply(
        MachineConfig::default(),
        &["singlestep", r#"{"execute":"query-status"}"#],
    );
    assert_eq!(reply["return"]["singlestep"], true);
}

#[test]
fn pci_add_nic_shows_in_query_pci_at_its_slot() {
    let reply = last_reply(
        MachineConfig::default(),
        &[
            "pci_add 0:0:9 nic model=e1000",
            r#"{"execute":"query-pci"}"#,
        ],
    );
    let slots: Vec<i64> = reply["return"][0]["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["slot"].as_i64())
        .collect();
    assert!(slots.contains(&9), "{slots:?}");
}

#[test]
fn snapshot_blkdev_changes_query_blocks_file_and_backing() {
    let reply = last_reply(
        virtio_base(),
        &[
            "snapshot_blkdev virtio0 /img/s.qcow2",
            r#"{"execute":"query-block"}"#,
        ],
    );
    let inserted = &reply["return"][0]["inserted"];
    assert_eq!(
        (
            &inserted["file"],
            &inserted["backing_file"],
            &inserted["drv"]
        ),
        (
            &serde_json::json!("/img/s.qcow2"),
            &serde_json::json!("/img/base.img"),
            &serde_json::json!("qcow2")
        )
    );
}

#[test]
fn drive_del_removes_the_drive_from_query_block() {
    let reply = last_reply(
        MachineConfig::default(),
        &["drive_del ide1-cd0", r#"{"execute":"query-block"}"#],
    );
    let names: Vec<&str> = reply["return"]
        .as_array()
        .expect("drives")
        .iter()
        .filter_map(|d| d["device"].as_str())
        .collect();
    assert_eq!(names, ["floppy0", "sd0"]);
}
