//! Goldens of the machine-model commands (block, devices, CPUs, network, chardevs,
//! mice, reset and power-down): one snapshot per command with its seed example,
//! its success paths and every error path, run against a configuration that gives
//! them meaning. Snapshots live in `golden/devices__*.snap` and are reviewed
//! against qmp-0.14-facts.md, never accepted blindly.

use qmpsim::engine::Input;
use qmpsim::machine::clock::VirtualTime;
use qmpsim::machine::config::{
    ChardevBackend, ChardevConfig, DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList,
};
use qmpsim::scenario::{append_outputs, run, SCRIPT_CLIENT};

use crate::support::{
    balloon_virtio, goldens, hda, hda_only, image, negotiated, nodefaults, paused, snap,
};

/// One step of a scripted session.
enum Step<'a> {
    /// Send a line from the client.
    Send(&'a str),
    /// Let this many milliseconds of virtual time pass.
    AdvanceMs(u64),
    /// The edge reports an image probe.
    Probe(&'a str, ImageProbe),
}

use Step::{AdvanceMs, Probe, Send};

/// `-hda disks/test.img` (1 GiB raw) and a CD-ROM (`ide1-cd1`) whose tray the
/// guest holds locked.
fn disk_and_locked_cd() -> Vec<DriveConfig> {
    vec![
        hda("disks/test.img", image("raw", 1 << 30)),
        drive(
            "file=locked.iso,index=3,media=cdrom,x-locked=on",
            Some(image("raw", 1 << 20)),
        ),
    ]
}

/// Runs steps after connecting and negotiating; the transcript shows requests,
/// replies, events, time steps and exits.
fn session(config: MachineConfig, steps: &[Step<'_>]) -> String {
    let mut engine = negotiated(config);
    let mut text = String::new();
    for step in steps {
        let out = match step {
            Send(line) => {
                text.push_str(&format!("-> {line}\n"));
                engine.step(Input::bytes(SCRIPT_CLIENT, line))
            }
            AdvanceMs(ms) => {
                text.push_str(&format!("-- {ms} ms pass\n"));
                let at = VirtualTime(engine.now().0 + ms * 1_000_000);
                engine.step(Input::AdvanceTo { at })
            }
            Probe(path, probe) => {
                text.push_str(&format!("-- probe {path}: {probe:?}\n"));
                engine.step(Input::ImageProbed {
                    path: (*path).to_owned(),
                    probe: probe.clone(),
                })
            }
        };
        append_outputs(&mut text, &out);
    }
    text
}

/// Plain line-by-line session through the shared scenario harness.
fn lines(config: MachineConfig, lines: &[&str]) -> String {
    run(config, true, lines).text
}

/// [`lines`] of each `(config, lines)` in turn, one transcript after another.
fn lines_of_each(parts: &[(MachineConfig, &[&str])]) -> String {
    parts
        .iter()
        .map(|(config, script)| lines(config.clone(), script))
        .collect()
}

fn found(info: ImageInfo) -> ImageProbe {
    ImageProbe::Found(info)
}

/// A `-drive` from `k=v,...` text and an optional probe of its file.
fn drive(spec: &str, probe: Option<ImageInfo>) -> DriveConfig {
    let mut d = DriveConfig::default();
    for item in spec.split(',') {
        let (k, v) = item.split_once('=').unwrap_or((item, "on"));
        d.opts.push(k, v);
    }
    d.probe = probe.map(ImageProbe::Found);
    d
}

/// An option group from `first,k=v,...` with the first item under `implied`.
fn group(implied: &str, spec: &str) -> OptionList {
    let mut o = OptionList::default();
    for (i, item) in spec.split(',').enumerate() {
        match item.split_once('=') {
            Some((k, v)) => o.push(k, v),
            None if i == 0 => o.push(implied, item),
            None => o.push(item, "on"),
        }
    }
    o
}

goldens! {
    eject => "devices__eject", lines(
        MachineConfig {
            drives: disk_and_locked_cd(),
            ..paused()
        },
        &[
            r#"{ "execute": "eject", "arguments": { "device": "ide1-cd0" } }"#,
            r#"{"execute":"eject","id":1}"#,
            r#"{"execute":"eject","arguments":{"device":"nosuch"},"id":2}"#,
            r#"{"execute":"eject","arguments":{"device":"ide0-hd0"},"id":3}"#,
            r#"{"execute":"eject","arguments":{"device":"ide1-cd1"},"id":4}"#,
            r#"{"execute":"eject","arguments":{"device":"ide1-cd1","force":true},"id":5}"#,
            r#"{"execute":"eject","arguments":{"device":"ide0-hd0","force":true},"id":6}"#,
            r#"{"execute":"query-block","id":7}"#,
        ],
    );
}

#[test]
fn change() {
    let cfg = MachineConfig {
        drives: disk_and_locked_cd(),
        ..Default::default()
    };
    let encrypted = ImageInfo {
        encrypted: true,
        ..image("qcow2", 1 << 30)
    };
    snap(
        "devices__change",
        &session(
            cfg,
            &[
                Probe(
                    "/srv/images/Fedora-12-x86_64-DVD.iso",
                    found(image("raw", 3_589_312_512)),
                ),
                Send(
                    r#"{ "execute": "change", "arguments": { "device": "ide1-cd0", "target": "/srv/images/Fedora-12-x86_64-DVD.iso" } }"#,
                ),
                Send(r#"{"execute":"query-block","id":"after-change"}"#),
                Send(
                    r#"{"execute":"change","arguments":{"device":"nosuch","target":"x.iso"},"id":1}"#,
                ),
                Send(
                    r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"x.iso","arg":"iso9660"},"id":2}"#,
                ),
                Send(
                    r#"{"execute":"change","arguments":{"device":"ide0-hd0","target":"x.iso"},"id":3}"#,
                ),
                Send(
                    r#"{"execute":"change","arguments":{"device":"ide1-cd1","target":"x.iso"},"id":4}"#,
                ),
                Send(
                    r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"/missing.iso"},"id":5}"#,
                ),
                Send(r#"{"execute":"query-block","id":"ejected-by-failed-open"}"#),
                Probe("fd.img", found(image("raw", 1_474_560))),
                Send(
                    r#"{"execute":"change","arguments":{"device":"floppy0","target":"fd.img","arg":"qcow2"},"id":6}"#,
                ),
                Send(
                    r#"{"execute":"change","arguments":{"device":"floppy0","target":"fd.img","arg":"raw"},"id":7}"#,
                ),
                Probe("secret.qcow2", found(encrypted)),
                Send(
                    r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"secret.qcow2"},"id":8}"#,
                ),
                Send(r#"{"execute":"stop","id":9}"#),
                Send(r#"{"execute":"cont","id":10}"#),
                Send(
                    r#"{"execute":"block_passwd","arguments":{"device":"ide1-cd0","password":"pw"},"id":11}"#,
                ),
                Send(r#"{"execute":"cont","id":12}"#),
                Send(r#"{"execute":"query-block","id":13}"#),
            ],
        ),
    );
}

goldens! {
    block_resize => "devices__block_resize", lines(
        MachineConfig {
            drives: vec![
                drive(
                    "file=scratch.img,if=none,id=scratch",
                    Some(image("raw", 1 << 29)),
                ),
                drive(
                    "file=base.qcow2,if=none,id=q",
                    Some(image("qcow2", 1 << 30)),
                ),
                drive("file=old.vmdk,if=none,id=v", Some(image("vmdk", 1 << 30))),
                drive(
                    "file=ro.img,if=none,id=ro,readonly=on",
                    Some(image("raw", 1 << 20)),
                ),
            ],
            ..paused()
        },
        &[
            r#"{ "execute": "block_resize", "arguments": { "device": "scratch", "size": 1073741824 } }"#,
            r#"{"execute":"block_resize","arguments":{"device":"scratch"},"id":1}"#,
            r#"{"execute":"block_resize","arguments":{"device":"scratch","size":"1G"},"id":2}"#,
            r#"{"execute":"block_resize","arguments":{"device":"nosuch","size":1},"id":3}"#,
            r#"{"execute":"block_resize","arguments":{"device":"scratch","size":-1},"id":4}"#,
            r#"{"execute":"block_resize","arguments":{"device":"ide1-cd0","size":1024},"id":5}"#,
            r#"{"execute":"block_resize","arguments":{"device":"ro","size":2097152},"id":6}"#,
            r#"{"execute":"block_resize","arguments":{"device":"v","size":2147483648},"id":7}"#,
            r#"{"execute":"block_resize","arguments":{"device":"q","size":1024},"id":8}"#,
            r#"{"execute":"block_resize","arguments":{"device":"q","size":2147483649},"id":9}"#,
            r#"{"execute":"block_resize","arguments":{"device":"q","size":2147483648},"id":10}"#,
        ],
    );
}

#[test]
fn block_passwd() {
    let encrypted = ImageInfo {
        encrypted: true,
        ..image("qcow2", 1 << 30)
    };
    let cfg = MachineConfig {
        drives: vec![
            hda("disks/enc.qcow2", encrypted.clone()),
            drive(
                "file=other.qcow2,if=none,id=guarded,x-password=12345",
                Some(encrypted),
            ),
        ],
        ..Default::default()
    };
    snap(
        "devices__block_passwd",
        &lines(
            cfg,
            &[
                r#"{"execute":"query-status","id":"autostart-suppressed"}"#,
                r#"{"execute":"cont","id":0}"#,
                r#"{ "execute": "block_passwd", "arguments": { "device": "ide0-hd0", "password": "12345" } }"#,
                r#"{"execute":"cont","id":1}"#,
                r#"{"execute":"block_passwd","arguments":{"device":"guarded","password":"wrong"},"id":2}"#,
                r#"{"execute":"block_passwd","arguments":{"device":"guarded","password":"12345"},"id":3}"#,
                r#"{"execute":"cont","id":4}"#,
                r#"{"execute":"block_passwd","arguments":{"device":"nosuch","password":"x"},"id":5}"#,
                r#"{"execute":"block_passwd","arguments":{"device":"ide1-cd0","password":"x"},"id":6}"#,
                r#"{"execute":"block_passwd","arguments":{"device":"ide0-hd0"},"id":7}"#,
            ],
        ),
    );
}

goldens! {
    query_block => "devices__query_block", lines_of_each(&[
        (
            MachineConfig {
                drives: vec![hda("disks/test.img", image("qcow2", 1 << 30))],
                ..paused()
            },
            &[r#"{ "execute": "query-block" }"#],
        ),
        (
            MachineConfig {
                drives: vec![
                    hda(
                        "overlay.qcow2",
                        ImageInfo {
                            backing_file: Some("base.img".to_owned()),
                            ..image("qcow2", 1 << 30)
                        },
                    ),
                    drive(
                        "file=/dev/cdrom,index=2,media=cdrom,format=host_cdrom",
                        Some(image("host_cdrom", 0)),
                    ),
                ],
                nodefaults: true,
                ..paused()
            },
            &[
                r#"{"execute":"query-block","id":"backing-and-nodefaults"}"#,
                r#"{"execute":"query-block","arguments":{"x":1},"id":"bad-arg"}"#,
            ],
        ),
    ]);
}

#[test]
fn query_blockstats() {
    snap(
        "devices__query_blockstats",
        &session(
            hda_only("disks/test.img", image("qcow2", 1 << 30)),
            &[
                Send(r#"{ "execute": "query-blockstats" }"#),
                AdvanceMs(1000),
                Send(r#"{"execute":"query-blockstats","id":"after-1s"}"#),
                Send(r#"{"execute":"stop","id":"pause"}"#),
                AdvanceMs(5000),
                Send(r#"{"execute":"query-blockstats","id":"unchanged-while-paused"}"#),
            ],
        ),
    );
}

goldens! {
    device_add => "devices__device_add", session(
        MachineConfig {
            usb: true,
            drives: vec![drive(
                "file=data.img,if=none,id=disk1",
                Some(image("raw", 1 << 30)),
            )],
            ..Default::default()
        },
        &[
            Send(
                r#"{ "execute": "device_add", "arguments": { "driver": "e1000", "id": "net1" } }"#,
            ),
            Send(r#"{"execute":"query-pci","id":"probe-pending"}"#),
            AdvanceMs(400),
            Send(r#"{"execute":"query-pci","id":"programmed"}"#),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","drive":"disk1","addr":"0x7","id":"vd"},"id":1}"#,
            ),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"lsi","id":"scsi0"},"id":2}"#,
            ),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"usb-tablet","bus":"usb.0","id":"tab"},"id":3}"#,
            ),
            AdvanceMs(600),
            Send(r#"{"execute":"query-mice","id":4}"#),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"e1000","id":7},"id":"int-id-is-ignored"}"#,
            ),
            Send(r#"{"execute":"query-pci","id":5}"#),
        ],
    );

    usb_storage => "devices__usb_storage", lines(
        MachineConfig {
            usb: true,
            drives: vec![
                drive("file=stick.img,if=none,id=stick", Some(image("raw", 64 << 20))),
                drive("file=other.img,if=none,id=other", Some(image("raw", 64 << 20))),
            ],
            ..Default::default()
        },
        &[
            r#"{"execute":"device_add","arguments":{"driver":"usb-storage","drive":"stick","id":"msd"},"id":1}"#,
            r#"{"execute":"human-monitor-command","arguments":{"command-line":"info usb"},"id":2}"#,
            r#"{"execute":"device_add","arguments":{"driver":"scsi-disk","drive":"other","bus":"msd.0"},"id":"no-hotplug"}"#,
            r#"{"execute":"device_add","arguments":{"driver":"usb-storage","drive":"stick"},"id":"in-use"}"#,
            r#"{"execute":"device_del","arguments":{"id":"msd"},"id":3}"#,
            r#"{"execute":"query-block","id":"stick-went-with-its-disk"}"#,
        ],
    );

    device_add_errors => "devices__device_add_errors", lines(
        MachineConfig {
            drives: vec![drive(
                "file=data.img,if=none,id=disk1",
                Some(image("raw", 1 << 30)),
            )],
            devices: vec![group("driver", "lsi53c895a,id=scsi0")],
            ..paused()
        },
        &[
            r#"{"execute":"device_add","id":1}"#,
            r#"{"execute":"device_add","arguments":{"driver":"nosuch"},"id":2}"#,
            r#"{"execute":"device_add","arguments":{"driver":"PIIX3"},"id":3}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"1bad"},"id":4}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"scsi0"},"id":5}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","bus":"pci.9"},"id":6}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","bus":"pci.0/nosuch"},"id":7}"#,
            r#"{"execute":"device_add","arguments":{"driver":"scsi-disk","bus":"pci.0/i440FX"},"id":8}"#,
            r#"{"execute":"device_add","arguments":{"driver":"scsi-disk","bus":"pci.0/piix3-ide"},"id":9}"#,
            r#"{"execute":"device_add","arguments":{"driver":"scsi-disk","bus":"pci.0/scsi0/scsi.7"},"id":10}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","bus":"scsi0.0"},"id":11}"#,
            r#"{"execute":"device_add","arguments":{"driver":"usb-tablet"},"id":12}"#,
            r#"{"execute":"device_add","arguments":{"driver":"isa-serial"},"id":13}"#,
            r#"{"execute":"device_add","arguments":{"driver":"ide-drive","drive":"disk1"},"id":14}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","speed":100},"id":15}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","mac":"52:54:00:12:34"},"id":16}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","addr":"1.8"},"id":17}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","multifunction":"maybe"},"id":18}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","netdev":"nosuch"},"id":19}"#,
            r#"{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","drive":"nosuch"},"id":20}"#,
            r#"{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","drive":"ide1-cd0"},"id":21}"#,
            r#"{"execute":"device_add","arguments":{"driver":"scsi-disk","drive":"floppy0","scsi-id":9},"id":22}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","addr":3},"id":23}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","addr":"1.5"},"id":24}"#,
            r#"{"execute":"device_add","arguments":{"driver":"virtio-blk"},"id":25}"#,
            r#"{"execute":"device_add","arguments":{"driver":"cirrus-vga"},"id":26}"#,
            r#"{"execute":"device_add","arguments":{"driver":"e1000","bogus":1,"mac":"zz"},"id":27}"#,
            r#"{"execute":"device_add","arguments":[],"id":28}"#,
        ],
    );

    device_del => "devices__device_del", session(
        MachineConfig {
            usb: true,
            devices: vec![
                group("driver", "isa-serial,id=com2"),
                group("driver", "VGA,id=vga0"),
            ],
            ..Default::default()
        },
        &[
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"net1"},"id":0}"#,
            ),
            AdvanceMs(400),
            Send(r#"{ "execute": "device_del", "arguments": { "id": "net1" } }"#),
            Send(r#"{"execute":"query-pci","id":"still-there-until-guest-ejects"}"#),
            AdvanceMs(500),
            Send(r#"{"execute":"query-pci","id":"ejected"}"#),
            Send(r#"{"execute":"device_del","arguments":{"id":"net1"},"id":1}"#),
            Send(
                r#"{"execute":"device_add","arguments":{"driver":"usb-mouse","id":"m"},"id":2}"#,
            ),
            Send(r#"{"execute":"device_del","arguments":{"id":"m"},"id":3}"#),
            Send(r#"{"execute":"query-mice","id":4}"#),
            Send(r#"{"execute":"device_del","arguments":{"id":"com2"},"id":5}"#),
            Send(r#"{"execute":"device_del","arguments":{"id":"vga0"},"id":6}"#),
            Send(r#"{"execute":"device_del","id":7}"#),
        ],
    );

    cpu => "devices__cpu", lines(
        MachineConfig { smp: 2, ..paused() },
        &[
            r#"{ "execute": "cpu", "arguments": { "index": 0 } }"#,
            r#"{"execute":"cpu","arguments":{"index":1},"id":1}"#,
            r#"{"execute":"query-cpus","id":2}"#,
            r#"{"execute":"cpu","arguments":{"index":2},"id":3}"#,
            r#"{"execute":"cpu","arguments":{"index":-1},"id":4}"#,
            r#"{"execute":"cpu","arguments":{"index":"0"},"id":5}"#,
            r#"{"execute":"cpu","id":6}"#,
            r#"{"execute":"cpu","arguments":{"index":4294967296},"id":7}"#,
            r#"{"execute":"query-cpus","id":8}"#,
        ],
    );

    query_cpus => "devices__query_cpus", session(
        MachineConfig { smp: 2, ..paused() },
        &[
            Send(r#"{ "execute": "query-cpus" }"#),
            Send(r#"{"execute":"cont","id":1}"#),
            AdvanceMs(300),
            Send(r#"{"execute":"query-cpus","id":"running"}"#),
            Send(r#"{"execute":"system_reset","id":2}"#),
            Send(r#"{"execute":"query-cpus","id":"after-reset"}"#),
        ],
    );
}

/// `-chardev socket,id=compat_monitor0,host=127.0.0.1,port=4444,server,nowait`.
fn tcp_monitor() -> ChardevConfig {
    ChardevConfig {
        label: "compat_monitor0".to_owned(),
        backend: ChardevBackend::Tcp {
            host: "127.0.0.1".to_owned(),
            port: "4444".to_owned(),
            server: true,
            wait: false,
            telnet: false,
        },
    }
}

goldens! {
    query_pci => "devices__query_pci", lines_of_each(&[
        (balloon_virtio(), &[r#"{ "execute": "query-pci" }"#]),
        (
            MachineConfig {
                usb: true,
                ..paused()
            },
            &[
                r#"{"execute":"query-pci","id":"before-firmware"}"#,
                r#"{"execute":"cont","id":"boot"}"#,
                r#"{"execute":"query-pci","id":"after-firmware"}"#,
            ],
        ),
        (nodefaults(), &[r#"{"execute":"query-pci","id":"nodefaults"}"#]),
    ]);

    query_chardev => "devices__query_chardev", lines_of_each(&[
        (
            MachineConfig {
                chardevs: vec![tcp_monitor()],
                ..Default::default()
            },
            &[r#"{ "execute": "query-chardev" }"#],
        ),
        (
            MachineConfig {
                chardevs: vec![tcp_monitor()],
                nographic: true,
                ..Default::default()
            },
            &[r#"{"execute":"query-chardev","id":"nographic"}"#],
        ),
        (nodefaults(), &[r#"{"execute":"query-chardev","id":"nodefaults"}"#]),
    ]);
}

#[test]
fn query_mice() {
    let cfg = MachineConfig {
        usb: true,
        serials: vec!["msmouse".to_owned()],
        devices: vec![group("driver", "usb-tablet")],
        ..Default::default()
    };
    let mut text = lines(
        MachineConfig::default(),
        &[r#"{ "execute": "query-mice" }"#],
    );
    text.push_str(&session(
        cfg,
        &[
            Send(r#"{"execute":"query-mice","id":"before-guest-polls"}"#),
            AdvanceMs(600),
            Send(r#"{"execute":"query-mice","id":"tablet-active"}"#),
        ],
    ));
    snap("devices__query_mice", &text);
}

goldens! {
    netdev_add => "devices__netdev_add", lines(
        paused(),
        &[
            r#"{ "execute": "netdev_add", "arguments": { "type": "user", "id": "netdev1" } }"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"netdev1"},"id":1}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"9x"},"id":2}"#,
            r#"{"execute":"netdev_add","arguments":{"id":"n2"},"id":3}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"nic","id":"n2"},"id":4}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"n2","vlan":1},"id":5}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"n2","name":"x"},"id":6}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user"},"id":7}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":3},"id":8}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"n2","bogus":"1"},"id":9}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"tap","id":"n2","sndbuf":"1x"},"id":10}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"tap","id":"n2","vhost":"yes"},"id":11}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"socket","id":"n2"},"id":12}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"socket","id":"n2","listen":":5555"},"id":13}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"socket","id":"n3","listen":":5555"},"id":14}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"tap","id":"n3","vhost":true,"sndbuf":"1M"},"id":15}"#,
        ],
    );

    netdev_del => "devices__netdev_del", lines(
        MachineConfig {
            netdevs: vec![group("type", "user,id=n0")],
            devices: vec![group("driver", "e1000,netdev=n0,id=nic0")],
            ..paused()
        },
        &[
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"netdev1"},"id":0}"#,
            r#"{ "execute": "netdev_del", "arguments": { "id": "netdev1" } }"#,
            r#"{"execute":"netdev_del","arguments":{"id":"netdev1"},"id":1}"#,
            r#"{"execute":"netdev_del","arguments":{"id":"nic0"},"id":2}"#,
            r#"{"execute":"device_add","arguments":{"driver":"rtl8139","netdev":"n0"},"id":3}"#,
            r#"{"execute":"netdev_del","arguments":{"id":"n0"},"id":4}"#,
            r#"{"execute":"netdev_add","arguments":{"type":"user","id":"n0"},"id":5}"#,
            r#"{"execute":"netdev_del","id":6}"#,
        ],
    );
}

goldens! {
    set_link => "devices__set_link", lines_of_each(&[
        (
            paused(),
            &[
                r#"{ "execute": "set_link", "arguments": { "name": "e1000.0", "up": false } }"#,
                r#"{"execute":"set_link","arguments":{"name":"user.0","up":true},"id":1}"#,
                r#"{"execute":"set_link","arguments":{"name":"nosuch","up":true},"id":2}"#,
                r#"{"execute":"set_link","arguments":{"name":"e1000.0","up":"off"},"id":3}"#,
                r#"{"execute":"set_link","arguments":{"name":"e1000.0"},"id":4}"#,
            ],
        ),
        (
            MachineConfig {
                netdevs: vec![group("type", "user,id=n0")],
                devices: vec![group("driver", "virtio-net-pci,netdev=n0,id=nic0")],
                ..paused()
            },
            &[
                r#"{"execute":"set_link","arguments":{"name":"nic0","up":false},"id":"netdev-nic"}"#,
                r#"{"execute":"set_link","arguments":{"name":"n0","up":false},"id":"netdev"}"#,
            ],
        ),
    ]);

    system_reset => "devices__system_reset", lines_of_each(&[
        (
            MachineConfig::default(),
            &[
                r#"{ "execute": "system_reset" }"#,
                r#"{"execute":"query-cpus","id":1}"#,
                r#"{"execute":"system_reset","arguments":{"hard":true},"id":2}"#,
            ],
        ),
        (
            MachineConfig {
                no_reboot: true,
                ..Default::default()
            },
            &[r#"{"execute":"system_reset","id":"no-reboot"}"#],
        ),
    ]);
}

#[test]
fn system_powerdown() {
    let mut text = session(
        MachineConfig::default(),
        &[
            Send(r#"{ "execute": "system_powerdown" }"#),
            Send(r#"{"execute":"system_powerdown","id":"second-press"}"#),
            AdvanceMs(2500),
        ],
    );
    text.push_str(&session(
        MachineConfig {
            no_shutdown: true,
            ..Default::default()
        },
        &[
            Send(r#"{"execute":"system_powerdown","id":"no-shutdown"}"#),
            AdvanceMs(2500),
            Send(r#"{"execute":"query-status","id":1}"#),
            Send(r#"{"execute":"system_reset","id":2}"#),
            Send(r#"{"execute":"cont","id":3}"#),
            Send(r#"{"execute":"query-status","id":4}"#),
        ],
    ));
    text.push_str(&session(
        paused(),
        &[
            Send(r#"{"execute":"system_powerdown","id":"paused"}"#),
            AdvanceMs(5000),
            Send(r#"{"execute":"cont","id":5}"#),
            AdvanceMs(2500),
        ],
    ));
    snap("devices__system_powerdown", &text);
}
