//! Goldens of the human monitor through `human-monitor-command`: one snapshot
//! per `info` item and per HMP command form (`golden/hmp__*.snap`), with their
//! success and error paths, on machines that give them meaning (disks, CD-ROM,
//! VNC, SPICE, balloon, two CPUs, migrations). Each string reply is also shown
//! decoded under `   | ` so the 0.14 text formats (qmp-0.14-facts.md §8) can be
//! reviewed line by line; the `<- ` line stays the exact wire bytes.

use qmpsim::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig};
use qmpsim::scenario::run;

use crate::support::{
    balloon_virtio, goldens, hda, hda_only, hmp_or_raw, image, kvm, nodefaults, nographic, opts,
    paused, snap, spice, vnc, Step,
};

/// Appends the decoded text of every string reply under its `<- ` line.
fn decoded(transcript: &str) -> String {
    let mut out = String::new();
    for line in transcript.lines() {
        out.push_str(line);
        out.push('\n');
        let Some(json) = line.strip_prefix("<- ") else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(json).expect("replies are JSON");
        if let Some(text) = value.get("return").and_then(serde_json::Value::as_str) {
            for l in text.split("\r\n").filter(|l| !l.is_empty()) {
                out.push_str(&format!("   | {l}\n"));
            }
        }
    }
    out
}

/// HMP lines (a line starting with `{` is sent as raw QMP) through
/// `qmpsim::scenario::run`.
pub(crate) fn lines(config: MachineConfig, lines: &[&str]) -> String {
    let requests = hmp_or_raw(lines);
    let refs: Vec<&str> = requests.iter().map(String::as_str).collect();
    decoded(&run(config, true, &refs).text)
}

/// One labelled session per part, concatenated under `## label` headers.
fn parts(parts: &[(&str, MachineConfig, &[&str])]) -> String {
    let mut text = String::new();
    for (label, config, ls) in parts {
        text.push_str(&format!("## {label}\n"));
        text.push_str(&lines(config.clone(), ls));
    }
    text
}

use Step::{AdvanceMs, Fd, Hmp, Probe, Send};

/// [`support::timed`](crate::support::timed), with string replies decoded.
pub(crate) fn timed(config: MachineConfig, steps: &[Step<'_>]) -> String {
    decoded(&crate::support::timed(config, steps))
}

fn drive(pairs: &[(&str, &str)], info: Option<ImageInfo>) -> DriveConfig {
    DriveConfig {
        opts: opts(pairs),
        probe: info.map(ImageProbe::Found),
    }
}

/// `-cdrom FILE` of an ISO.
fn cdrom(file: &str) -> DriveConfig {
    drive(
        &[("file", file), ("index", "2"), ("media", "cdrom")],
        Some(image("raw", 3_589_312_512)),
    )
}

/// `-hda disk.img -cdrom Fedora.iso -vnc :1 -spice port=5930,disable-ticketing
/// -balloon virtio -smp 2 -name vm1 -uuid ...`.
fn realistic() -> MachineConfig {
    MachineConfig {
        name: Some("vm1".into()),
        uuid: Some("4f3ae3b1-4e5c-4f2d-9c1b-5d6e7f8091a2".into()),
        smp: 2,
        drives: vec![
            hda("/var/lib/vm/disk.img", image("raw", 10 << 30)),
            cdrom("/srv/iso/Fedora 14.iso"),
        ],
        vnc: Some(":1".into()),
        spice: Some(opts(&[("port", "5930"), ("disable-ticketing", "on")])),
        balloon: Some(opts(&[("type", "virtio")])),
        ..MachineConfig::default()
    }
}

// ---------------------------------------------------------------- info items

goldens! {
    golden_hmp_info_version => "hmp__info_version",
        lines(MachineConfig::default(), &["info version"]);
}

#[test]
fn golden_hmp_info_network() {
    let netdev_nic = MachineConfig {
        netdevs: vec![opts(&[("type", "user"), ("id", "n1")])],
        devices: vec![opts(&[
            ("driver", "virtio-net-pci"),
            ("netdev", "n1"),
            ("id", "net0"),
        ])],
        nets: vec![
            opts(&[("type", "nic"), ("vlan", "1"), ("model", "rtl8139")]),
            opts(&[("type", "user"), ("vlan", "1")]),
        ],
        ..MachineConfig::default()
    };
    snap(
        "hmp__info_network",
        &parts(&[
            (
                "default pc (-net nic -net user)",
                MachineConfig::default(),
                &["info network"],
            ),
            (
                "-netdev user,id=n1 -device virtio-net-pci,netdev=n1,id=net0 -net nic,vlan=1,model=rtl8139 -net user,vlan=1",
                netdev_nic,
                &[
                    "info network",
                    "netdev_add socket,id=s1,listen=:4321",
                    "info network",
                    "netdev_del n1",
                    "info network",
                ],
            ),
            (
                "-nodefaults",
                nodefaults(),
                &["info network"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_info_chardev => "hmp__info_chardev", parts(&[
        ("default", MachineConfig::default(), &["info chardev"]),
        ("-nographic", nographic(), &["info chardev"]),
    ]);

    golden_hmp_info_block => "hmp__info_block", timed(
        MachineConfig {
            drives: vec![
                hda("/var/lib/vm/my disk.img", image("raw", 10 << 30)),
                drive(
                    &[
                        ("file", "/var/lib/vm/overlay.qcow2"),
                        ("if", "virtio"),
                        ("id", "vd0"),
                    ],
                    Some(ImageInfo {
                        backing_file: Some("/var/lib/vm/base\t\"1\".img".into()),
                        ..image("qcow2", 20 << 30)
                    }),
                ),
                cdrom("/srv/iso/Fedora 14.iso"),
            ],
            ..MachineConfig::default()
        },
        &[
            Hmp("info block"),
            Hmp("eject ide1-cd0"),
            Probe("/srv/iso/win.iso", image("raw", 1 << 30)),
            Hmp("change floppy0 /srv/iso/win.iso"),
            Hmp("info block"),
        ],
    );
}

#[test]
fn golden_hmp_info_blockstats() {
    snap(
        "hmp__info_blockstats",
        &timed(
            hda_only("disk.img", image("raw", 1 << 30)),
            &[
                Hmp("info blockstats"),
                AdvanceMs(3000),
                Hmp("info blockstats"),
            ],
        ),
    );
}

#[test]
fn golden_hmp_info_cpus() {
    let smp2 = MachineConfig {
        smp: 2,
        ..MachineConfig::default()
    };
    let cpu_index_1 = r#"{"execute":"human-monitor-command","arguments":{"command-line":"info cpus","cpu-index":1}}"#;
    let cpu_index_bad = r#"{"execute":"human-monitor-command","arguments":{"command-line":"info cpus","cpu-index":2},"id":"bad"}"#;
    let mut text = String::from("## -smp 2 -S\n");
    text.push_str(&lines(
        MachineConfig {
            start_paused: true,
            ..smp2.clone()
        },
        &[
            "info cpus",
            cpu_index_1,
            cpu_index_bad,
            // The QMP monitor's `cpu 1` does not reach the throwaway HMP monitor.
            r#"{"execute":"cpu","arguments":{"index":1}}"#,
            "info cpus",
        ],
    ));
    text.push_str("## -smp 2, the guest running\n");
    text.push_str(&timed(smp2, &[AdvanceMs(2000), Hmp("info cpus")]));
    snap("hmp__info_cpus", &text);
}

#[test]
fn golden_hmp_info_pci() {
    let mut text = String::from("## -S (before the BIOS: BARs unmapped)\n");
    text.push_str(&lines(paused(), &["info pci"]));
    text.push_str("## -balloon virtio, after the BIOS ran\n");
    text.push_str(&timed(balloon_virtio(), &[AdvanceMs(100), Hmp("info pci")]));
    snap("hmp__info_pci", &text);
}

goldens! {
    golden_hmp_info_kvm => "hmp__info_kvm", parts(&[
        ("TCG", MachineConfig::default(), &["info kvm"]),
        ("-enable-kvm", kvm(), &["info kvm"]),
    ]);

    golden_hmp_info_snapshots => "hmp__info_snapshots", parts(&[
        ("no disk", MachineConfig::default(), &["info snapshots"]),
        (
            "-hda raw",
            hda_only("disk.img", image("raw", 1 << 30)),
            &["info snapshots"],
        ),
        (
            "-hda qcow2",
            hda_only("disk.qcow2", image("qcow2", 1 << 30)),
            &["info snapshots"],
        ),
    ]);

    golden_hmp_info_status => "hmp__info_status", parts(&[
        (
            "running",
            MachineConfig::default(),
            &["info status", "stop", "info status", "c", "info status"],
        ),
        ("-S", paused(), &["info status"]),
    ]);

    golden_hmp_info_mice => "hmp__info_mice", timed(
        MachineConfig {
            usb: true,
            ..MachineConfig::default()
        },
        &[
            Hmp("info mice"),
            Hmp("device_add usb-tablet,id=tablet"),
            Hmp("info mice"),
            AdvanceMs(2000),
            Hmp("info mice"),
            Hmp("mouse_set 0"),
            Hmp("info mice"),
        ],
    );
}

goldens! {
    golden_hmp_info_vnc => "hmp__info_vnc", parts(&[
        ("no -vnc", MachineConfig::default(), &["info vnc"]),
        ("-vnc :1", vnc(":1"), &["info vnc"]),
        (
            "-vnc :2,password,sasl",
            vnc(":2,password,sasl"),
            &["info vnc"],
        ),
        (
            "-vnc unix:/tmp/vnc.sock",
            vnc("unix:/tmp/vnc.sock"),
            &["info vnc"],
        ),
    ]);
}

#[test]
fn golden_hmp_info_spice() {
    snap(
        "hmp__info_spice",
        &parts(&[
            ("no -spice", MachineConfig::default(), &["info spice"]),
            (
                "-spice port=5930,disable-ticketing",
                spice(&[("port", "5930"), ("disable-ticketing", "on")]),
                &["info spice"],
            ),
            (
                "-spice port=5930,tls-port=5931,addr=127.0.0.1,x509-dir=/etc/pki",
                spice(&[
                    ("port", "5930"),
                    ("tls-port", "5931"),
                    ("addr", "127.0.0.1"),
                    ("x509-dir", "/etc/pki"),
                ]),
                &["info spice"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_info_name_uuid => "hmp__info_name_uuid", parts(&[
        (
            "no -name, no -uuid",
            MachineConfig::default(),
            &["info name", "info uuid"],
        ),
        ("realistic", realistic(), &["info name", "info uuid"]),
    ]);

    golden_hmp_info_migrate => "hmp__info_migrate", timed(
        MachineConfig {
            ram_mb: 16,
            drives: vec![hda("disk.img", image("raw", 8 << 20))],
            ..MachineConfig::default()
        },
        &[
            Hmp("info migrate"),
            Hmp("block_resize ide0-hd0 12M"),
            Hmp(r#"migrate -d -b "exec:cat > /dev/null""#),
            Hmp("info migrate"),
            AdvanceMs(1000),
            Hmp("info migrate"),
            AdvanceMs(10_000),
            Hmp("info migrate"),
            Hmp("info status"),
            Hmp("c"),
            Hmp(r#"migrate -d "exec:cat > /dev/null""#),
            Hmp("migrate_cancel"),
            Hmp("info migrate"),
        ],
    );
}

#[test]
fn golden_hmp_info_balloon() {
    let cfg = balloon_virtio();
    let mut text = String::from("## no balloon device\n");
    text.push_str(&lines(
        MachineConfig::default(),
        &["info balloon", "balloon 64"],
    ));
    text.push_str("## -balloon virtio\n");
    text.push_str(&timed(
        cfg,
        &[
            Hmp("info balloon"),
            Hmp("balloon 100"),
            AdvanceMs(50),
            Hmp("info balloon"),
            AdvanceMs(1000),
            Hmp("info balloon"),
            Hmp("balloon 0"),
            Hmp("balloon x"),
        ],
    ));
    snap("hmp__info_balloon", &text);
}

goldens! {
    golden_hmp_info_list => "hmp__info_list", lines(
        MachineConfig::default(),
        &["info", "info commands", "info nosuch"],
    );
}

#[test]
fn golden_hmp_info_fixed_texts() {
    let usb = MachineConfig {
        usb: true,
        ..MachineConfig::default()
    };
    snap(
        "hmp__info_fixed_texts",
        &parts(&[
            (
                "default",
                MachineConfig::default(),
                &[
                    "info history",
                    "info irq",
                    "info numa",
                    "info usb",
                    "info profile",
                    "info capture",
                    "info pcmcia",
                ],
            ),
            (
                "-usb",
                usb,
                &["info usb", "device_add usb-tablet", "info usb"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_info_not_supported => "hmp__info_not_supported", lines(
        MachineConfig::default(),
        &[
            "info registers",
            "info pic",
            "info tlb",
            "info mem",
            "info jit",
            "info usbhost",
            "info roms",
        ],
    );
}

#[test]
fn golden_hmp_info_qtree() {
    let added = MachineConfig {
        usb: true,
        usb_devices: vec!["tablet".into()],
        netdevs: vec![opts(&[("type", "user"), ("id", "n1")])],
        devices: vec![
            opts(&[("driver", "e1000"), ("netdev", "n1"), ("id", "nic0")]),
            opts(&[
                ("driver", "virtio-blk-pci"),
                ("drive", "vd0"),
                ("id", "blk0"),
            ]),
            opts(&[("driver", "usb-tablet"), ("id", "tab0")]),
        ],
        nets: vec![
            opts(&[("type", "nic"), ("vlan", "1"), ("model", "rtl8139")]),
            opts(&[("type", "user"), ("vlan", "1")]),
        ],
        serials: vec!["vc".into(), "null".into()],
        ..realistic()
    };
    let mut added = added;
    added.drives.push(drive(
        &[
            ("file", "/var/lib/vm/data.img"),
            ("if", "none"),
            ("id", "vd0"),
        ],
        Some(image("raw", 1 << 30)),
    ));
    snap(
        "hmp__info_qtree",
        &parts(&[
            ("default machine", MachineConfig::default(), &["info qtree"]),
            (
                "-hda -cdrom -balloon virtio -usb -usbdevice tablet -serial vc -serial null \
                 -net nic,model=rtl8139,vlan=1 -device e1000 -device virtio-blk-pci \
                 -device usb-tablet, then hotplugged devices",
                added,
                &[
                    "device_add virtio-net-pci,id=hot0,mac=52:54:00:aa:bb:cc,vectors=0",
                    "pci_add auto nic model=ne2k_pci",
                    "usb_add mouse",
                    "device_add ide-drive,drive=ide0-hd0,bus=ide.0",
                    "info qtree",
                ],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_info_realistic => "hmp__info_realistic", timed(
        realistic(),
        &[
            AdvanceMs(2000),
            Hmp("info status"),
            Hmp("info block"),
            Hmp("info cpus"),
            Hmp("info network"),
            Hmp("info vnc"),
            Hmp("info spice"),
            Hmp("info balloon"),
            Hmp("info snapshots"),
            Hmp("info migrate"),
        ],
    );
}

// ------------------------------------------------------------------ commands

goldens! {
    golden_hmp_help => "hmp__help", lines(
        MachineConfig::default(),
        &[
            "help",
            "? info",
            "help q|quit",
            "help quit",
            "help log",
            "help nosuch",
        ],
    );
}

#[test]
fn golden_hmp_command_line() {
    let long = format!("{} x", "y".repeat(300));
    snap(
        "hmp__command_line",
        &lines(
            MachineConfig::default(),
            &[
                "foo",
                "",
                "   ",
                "info\tstatus",
                "  stop  ",
                "stop now",
                &long,
                "eject -",
            ],
        ),
    );
}

#[test]
fn golden_hmp_stop_cont() {
    let encrypted = MachineConfig {
        drives: vec![drive(
            &[
                ("file", "secret.qcow2"),
                ("index", "0"),
                ("x-password", "s3cret"),
            ],
            Some(ImageInfo {
                encrypted: true,
                ..image("qcow2", 1 << 30)
            }),
        )],
        ..MachineConfig::default()
    };
    snap(
        "hmp__stop_cont",
        &parts(&[
            (
                "running",
                MachineConfig::default(),
                &["stop", "stop", "cont", "c", "cont 1"],
            ),
            (
                "encrypted disk without its key",
                encrypted,
                &[
                    "info status",
                    "c",
                    "block_passwd ide0-hd0 wrong",
                    "block_passwd ide0-hd0 s3cret",
                    "c",
                    "info status",
                ],
            ),
            (
                "-incoming",
                MachineConfig {
                    incoming: Some("tcp:0:4444".into()),
                    ..MachineConfig::default()
                },
                &["c"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_quit => "hmp__quit", parts(&[
        ("q", MachineConfig::default(), &["q"]),
        (
            "quit with an argument",
            MachineConfig::default(),
            &["quit now"],
        ),
    ]);

    golden_hmp_system_reset_powerdown => "hmp__system_reset_powerdown", lines(
        MachineConfig::default(),
        &["system_reset", "system_powerdown", "system_reset 1"],
    );

    golden_hmp_eject => "hmp__eject", lines(
        MachineConfig {
            drives: vec![
                hda("disk.img", image("raw", 1 << 30)),
                cdrom("/srv/iso/Fedora 14.iso"),
                drive(
                    &[
                        ("file", "locked.iso"),
                        ("index", "3"),
                        ("media", "cdrom"),
                        ("x-locked", "on"),
                    ],
                    Some(image("raw", 1 << 20)),
                ),
            ],
            ..MachineConfig::default()
        },
        &[
            "eject",
            "eject nosuch",
            "eject ide0-hd0",
            "eject ide1-cd1",
            "eject -x ide1-cd1",
            "eject ide1-cd0 ide1-cd1",
            "eject ide1-cd0",
            "eject -f ide1-cd1",
            "eject -f ide0-hd0",
            "info block",
        ],
    );

    golden_hmp_change => "hmp__change", timed(
        MachineConfig {
            drives: vec![
                hda("disk.img", image("raw", 1 << 30)),
                cdrom("/srv/iso/Fedora 14.iso"),
            ],
            vnc: Some(":1".into()),
            ..MachineConfig::default()
        },
        &[
            Hmp("change"),
            Hmp("change ide1-cd0"),
            Probe("/srv/iso/debian 6.iso", image("raw", 647_000_064)),
            Hmp(r#"change ide1-cd0 "/srv/iso/debian 6.iso""#),
            Hmp("change ide1-cd0 /srv/iso/missing.iso"),
            Hmp("change ide1-cd0 /x.iso iso9660"),
            Hmp("change ide0-hd0 /x.iso"),
            Hmp("change nosuch /x.iso"),
            Probe(
                "/srv/enc.qcow2",
                ImageInfo {
                    encrypted: true,
                    ..image("qcow2", 1 << 30)
                },
            ),
            Hmp("change ide1-cd0 /srv/enc.qcow2"),
            Hmp("info block"),
            Hmp("change vnc password secret99"),
            Hmp("change vnc password"),
            Hmp("change vnc :5"),
            Hmp("info vnc"),
        ],
    );
}

goldens! {
    golden_hmp_screendump => "hmp__screendump", lines(
        MachineConfig::default(),
        &["screendump /tmp/screen.ppm", "screendump"],
    );

    golden_hmp_device_add_del => "hmp__device_add_del", timed(
        MachineConfig::default(),
        &[
            AdvanceMs(100),
            Hmp("device_add"),
            Hmp("device_add e1000,id=nic1,mac=52:54:00:00:00:01"),
            Hmp("device_add e1000,id=nic1"),
            Hmp("device_add e1000,id=1nic"),
            Hmp("device_add nosuch"),
            Hmp("device_add e1000, id=x"),
            Hmp("device_add e1000,bogus=1"),
            Hmp("info network"),
            Hmp("device_del"),
            Hmp("device_del nosuch"),
            Hmp("device_del nic1"),
            AdvanceMs(2000),
            Hmp("info network"),
        ],
    );

    golden_hmp_balloon_hotplug => "hmp__balloon_hotplug", timed(
        MachineConfig::default(),
        &[
            AdvanceMs(100),
            Hmp("info balloon"),
            Hmp("device_add virtio-balloon-pci,id=balloon0"),
            Hmp("info balloon"),
            Send(r#"{"execute":"query-balloon"}"#),
            Hmp("balloon 120"),
            AdvanceMs(1000),
            Hmp("info balloon"),
            Hmp("device_del balloon0"),
            Hmp("info balloon"),
            AdvanceMs(2000),
            Hmp("info balloon"),
            Send(r#"{"execute":"query-balloon"}"#),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"virtio-balloon-pci","id":"b2"}}"#,
            ),
            Send(r#"{"execute":"query-balloon"}"#),
        ],
    );

    golden_hmp_cpu => "hmp__cpu", lines(
        MachineConfig {
            smp: 2,
            ..MachineConfig::default()
        },
        &[
            "cpu 1",
            "cpu 0x1",
            "cpu 2",
            "cpu -1",
            "cpu 4294967296",
            "cpu",
            "cpu one",
            "cpu (1",
            "cpu 2-1",
            "cpu 1 2",
        ],
    );
}

goldens! {
    golden_hmp_memsave => "hmp__memsave", lines(
        paused(),
        &[
            "memsave 0 16 mem.bin",
            "pmemsave 0x1000 8 pmem.bin",
            "memsave $pc 4 pc.bin",
            "memsave $eax 4 eax.bin",
            // 0.14 reads `16 /tmp` as a division: absolute paths need quotes.
            "memsave 0 16 /tmp/mem.bin",
            r#"memsave 0 16 "/tmp/mem.bin""#,
            "memsave 0 16",
            "pmemsave",
            "memsave 0 0x100000000 x",
        ],
    );
}

#[test]
fn golden_hmp_migrate() {
    let disk = MachineConfig {
        ram_mb: 16,
        drives: vec![
            hda("disk.img", image("raw", 8 << 20)),
            cdrom("/srv/iso/Fedora 14.iso"),
        ],
        ..MachineConfig::default()
    };
    let mut text = String::from("## errors\n");
    text.push_str(&lines(
        MachineConfig::default(),
        &[
            "migrate",
            "migrate ftp://host/x",
            "migrate tcp:nocolon",
            "migrate fd:mig",
            "migrate -b -d exec:cat",
            "migrate -x exec:cat",
        ],
    ));
    text.push_str("## success forms\n");
    text.push_str(&timed(
        disk,
        &[
            Hmp(r#"migrate "exec:cat > /dev/null""#),
            Hmp("migrate -d tcp:127.0.0.1:4444"),
            Hmp("migrate_cancel"),
            Hmp("migrate -d -b unix:/tmp/mig.sock"),
            Hmp("migrate_cancel"),
            Hmp(r#"migrate -i "exec:cat > /dev/null""#),
            Hmp("info migrate"),
        ],
    ));
    snap("hmp__migrate", &text);
}

goldens! {
    golden_hmp_migrate_settings => "hmp__migrate_settings", lines(
        MachineConfig::default(),
        &[
            "migrate_set_speed 1g",
            "migrate_set_speed 100",
            "migrate_set_speed 10K",
            "migrate_set_speed 1.5B",
            "migrate_set_speed abc",
            "migrate_set_speed",
            "migrate_set_speed -1",
            "migrate_set_downtime 0.5",
            "migrate_set_downtime 100ms",
            "migrate_set_downtime 5min",
            "migrate_set_downtime inf",
            "migrate_set_downtime",
            "migrate_cancel",
            "migrate_cancel now",
        ],
    );

    golden_hmp_netdev_add_del => "hmp__netdev_add_del", lines(
        MachineConfig::default(),
        &[
            "netdev_add user,id=n1",
            "netdev_add user,id=n1",
            "netdev_add user,id=1n",
            "netdev_add user",
            "netdev_add id=x",
            "netdev_add nic,id=x",
            "netdev_add user,id=x,vlan=1",
            "netdev_add user,id=x,bogus=1",
            "netdev_add tap,id=t1,fd=tapfd",
            "netdev_add tap,id=t2,fd=3,ifname=tap9",
            "netdev_add tap,id=t3,fd=3",
            "netdev_add socket,id=s1",
            "netdev_add socket,id=s1,listen=:1234,connect=:1235",
            "netdev_add socket,id=s1,mcast=230.0.0.1:1234,fd=5",
            "netdev_add socket,id=s1,listen=:1234",
            "netdev_add socket,id=s2,listen=:1234",
            "info network",
            "netdev_del",
            "netdev_del nosuch",
            "netdev_del e1000.0",
            "netdev_del n1",
            "netdev_del t3",
            "info network",
        ],
    );

    /// Task B: `fd=NAME` takes a descriptor the QMP monitor named with getfd.
    golden_hmp_netdev_named_fd => "hmp__netdev_named_fd", timed(
        MachineConfig::default(),
        &[
            Fd(11),
            Send(r#"{"execute":"getfd","arguments":{"fdname":"tapfd"}}"#),
            Send(
                r#"{"execute":"netdev_add","arguments":{"type":"tap","id":"tap0","fd":"tapfd"}}"#,
            ),
            Send(
                r#"{"execute":"netdev_add","arguments":{"type":"tap","id":"tap1","fd":"tapfd"},"id":"taken"}"#,
            ),
            Fd(12),
            Send(r#"{"execute":"getfd","arguments":{"fdname":"sockfd"}}"#),
            Send(
                r#"{"execute":"netdev_add","arguments":{"type":"socket","id":"sock0","fd":"sockfd"}}"#,
            ),
            Hmp("info network"),
            Send(r#"{"execute":"closefd","arguments":{"fdname":"tapfd"},"id":"gone"}"#),
            Send(r#"{"execute":"netdev_del","arguments":{"id":"tap0"}}"#),
            Send(r#"{"execute":"netdev_del","arguments":{"id":"sock0"}}"#),
            Fd(13),
            Send(r#"{"execute":"getfd","arguments":{"fdname":"hmpfd"}}"#),
            // The throwaway HMP monitor holds no named descriptor.
            Hmp("netdev_add tap,id=tap2,fd=hmpfd"),
        ],
    );
}

#[test]
fn golden_hmp_balloon() {
    let cfg = balloon_virtio();
    snap(
        "hmp__balloon",
        &parts(&[
            ("no balloon", MachineConfig::default(), &["balloon 64"]),
            (
                "-balloon virtio",
                cfg,
                &[
                    "balloon 64",
                    "balloon 0",
                    "balloon 1024",
                    "balloon -1",
                    "balloon",
                    "balloon 64M",
                ],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_set_link => "hmp__set_link", lines(
        MachineConfig::default(),
        &[
            "set_link e1000.0 off",
            "set_link user.0 on",
            "set_link nosuch off",
            "set_link e1000.0 down",
            "set_link e1000.0",
            "set_link",
        ],
    );

    golden_hmp_block_resize_passwd => "hmp__block_resize_passwd", lines(
        MachineConfig {
            drives: vec![
                hda("disk.img", image("raw", 1 << 30)),
                cdrom("/srv/iso/Fedora 14.iso"),
            ],
            ..MachineConfig::default()
        },
        &[
            "block_resize ide0-hd0 2G",
            "block_resize ide0-hd0 100",
            "info block",
            "block_resize ide1-cd0 1G",
            "block_resize nosuch 1G",
            "block_resize ide0-hd0 big",
            "block_resize ide0-hd0",
            "block_resize",
            "block_passwd ide0-hd0 x",
            "block_passwd nosuch x",
            "block_passwd ide0-hd0",
        ],
    );
}

#[test]
fn golden_hmp_passwords() {
    let cfg = vnc(":1,password");
    snap(
        "hmp__passwords",
        &parts(&[
            (
                "-vnc :1,password",
                cfg,
                &[
                    "set_password vnc secret",
                    "set_password vnc secret keep",
                    "set_password vnc secret fail",
                    "set_password vnc secret bogus",
                    "set_password spice secret",
                    "set_password rdp secret",
                    "set_password vnc",
                    "expire_password vnc +60",
                    "expire_password vnc never",
                    "expire_password spice now",
                    "expire_password rdp now",
                    "expire_password vnc",
                ],
            ),
            (
                "no VNC",
                MachineConfig::default(),
                &["set_password vnc secret"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_getfd_closefd => "hmp__getfd_closefd", timed(
        MachineConfig::default(),
        &[
            Fd(7),
            Hmp("getfd myfd"),
            Hmp("getfd"),
            Hmp("closefd myfd"),
            Fd(8),
            Send(r#"{"execute":"getfd","arguments":{"fdname":"qmpfd"}}"#),
            // Names belong to the monitor that took them.
            Hmp("closefd qmpfd"),
            Send(r#"{"execute":"closefd","arguments":{"fdname":"qmpfd"}}"#),
        ],
    );
}

#[test]
fn golden_hmp_client_migrate_info() {
    let spice = spice(&[("port", "5930")]);
    snap(
        "hmp__client_migrate_info",
        &parts(&[
            (
                "-spice port=5930",
                spice,
                &[
                    "client_migrate_info spice virt42.lab.kraxel.org 1234",
                    "client_migrate_info vnc host",
                    "client_migrate_info spice",
                ],
            ),
            (
                "no -spice",
                MachineConfig::default(),
                &["client_migrate_info spice host 1234"],
            ),
        ]),
    );
}

#[test]
fn golden_hmp_snapshots() {
    let raw = MachineConfig {
        drives: vec![
            hda("disk.img", image("raw", 1 << 30)),
            drive(
                &[("file", "data.qcow2"), ("index", "1")],
                Some(image("qcow2", 1 << 30)),
            ),
        ],
        ..MachineConfig::default()
    };
    let qcow2 = MachineConfig {
        drives: vec![
            hda("disk.qcow2", image("qcow2", 1 << 30)),
            cdrom("/srv/iso/Fedora 14.iso"),
        ],
        ..MachineConfig::default()
    };
    snap(
        "hmp__snapshots",
        &parts(&[
            (
                "no disk",
                MachineConfig::default(),
                &[
                    "savevm",
                    "savevm tag1",
                    "delvm tag1",
                    "info status",
                    "loadvm tag1",
                    "info status",
                    "loadvm",
                ],
            ),
            (
                "-hda raw -hdb qcow2",
                raw,
                &["savevm", "loadvm tag1", "delvm tag1", "info snapshots"],
            ),
            (
                "-hda qcow2 -cdrom",
                qcow2,
                &["savevm tag1", "loadvm tag1", "delvm tag1", "info snapshots"],
            ),
        ]),
    );
}

goldens! {
    golden_hmp_mouse_log_misc => "hmp__mouse_log_misc", lines(
        MachineConfig::default(),
        &[
            "mouse_set 0",
            "mouse_set 7",
            "log in_asm,int",
            "log all",
            "log none",
            "log bogus",
            "logfile /tmp/qemu.log",
            "commit all",
            "nmi 0",
            "stopcapture 0",
        ],
    );

    golden_hmp_not_supported => "hmp__not_supported", lines(
        MachineConfig::default(),
        &[
            "gdbserver",
            "mce -b 0 1 2 3 4 5",
            "wavcapture /tmp/a.wav",
            "pcie_aer_inject_error -c dev0 0",
        ],
    );
}
