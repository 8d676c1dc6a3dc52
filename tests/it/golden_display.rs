//! Goldens for display, passwords, migration, memory dumps, fd passing and
//! balloon: one snapshot per command (in `golden/`), each covering the seed's
//! example, the success paths and every 0.14 error path, run against a
//! configuration that gives the command meaning. Sessions that need virtual time
//! to pass, a passed descriptor or an edge report use [`timed`], which writes the
//! same `-> `/`<- ` notation as `qmpsim::scenario::run` plus `## ` lines for the
//! extra inputs.

use qmpsim::machine::config::{DriveConfig, ImageProbe, MachineConfig};
use qmpsim::scenario::{self, SCRIPT_CLIENT};

use crate::support::{
    balloon_virtio, goldens, image, nographic, opts, sessions, snap, spice, timed, vnc, Step,
};

fn balloon_config(ram_mb: u64) -> MachineConfig {
    MachineConfig {
        ram_mb,
        ..balloon_virtio()
    }
}

fn disk_config() -> MachineConfig {
    MachineConfig {
        ram_mb: 4,
        drives: vec![DriveConfig {
            opts: opts(&[("file", "disk.img"), ("if", "ide"), ("index", "0")]),
            probe: Some(ImageProbe::Found(image("raw", 8 << 20))),
        }],
        ..MachineConfig::default()
    }
}

const QUERY_VNC: &str = r#"{"execute":"query-vnc","id":1}"#;

#[test]
fn golden_display_query_vnc() {
    let q: &[&str] = &[QUERY_VNC];
    let text = sessions(&[
        ("no -vnc (SDL build default)", MachineConfig::default(), q),
        ("-nographic", nographic(), q),
        ("-vnc none", vnc("none"), q),
        ("-vnc :0", vnc(":0"), q),
        ("-vnc localhost:0,to=99", vnc("localhost:0,to=99"), q),
        ("-vnc 127.0.0.1:1,password", vnc("127.0.0.1:1,password"), q),
        ("-vnc [::1]:2,sasl", vnc("[::1]:2,sasl"), q),
        (
            "-vnc :3,tls,x509=/etc/pki/qemu",
            vnc(":3,tls,x509=/etc/pki/qemu"),
            q,
        ),
        (
            "-vnc :4,tls,x509verify=/etc/pki/qemu,password",
            vnc(":4,tls,x509verify=/etc/pki/qemu,password"),
            q,
        ),
        ("-vnc unix:/tmp/vnc.sock", vnc("unix:/tmp/vnc.sock"), q),
        (
            "-vnc 127.0.0.1:5500,reverse (no listening socket)",
            vnc("127.0.0.1:5500,reverse"),
            q,
        ),
        (
            "argument given",
            vnc(":0"),
            &[r#"{"execute":"query-vnc","arguments":{"x":1}}"#],
        ),
    ]);
    snap("display__query_vnc", &text);
}

#[test]
fn golden_display_query_spice() {
    let q: &[&str] = &[r#"{"execute":"query-spice"}"#];
    let text = sessions(&[
        ("no -spice", MachineConfig::default(), q),
        ("-spice port=5920", spice(&[("port", "5920")]), q),
        (
            "-spice port=5920,tls-port=5921,addr=192.168.1.10 (seed example shape)",
            spice(&[
                ("port", "5920"),
                ("tls-port", "5921"),
                ("addr", "192.168.1.10"),
            ]),
            q,
        ),
        (
            "-spice port=5930,disable-ticketing",
            spice(&[("port", "5930"), ("disable-ticketing", "on")]),
            q,
        ),
    ]);
    snap("display__query_spice", &text);
}

goldens! {
    golden_display_set_password => "display__set_password", sessions(&[
        (
            "-vnc :0 (seed example, then auth switches to vnc)",
            vnc(":0"),
            &[
                r#"{ "execute": "set_password", "arguments": { "protocol": "vnc", "password": "secret" } }"#,
                QUERY_VNC,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"secret","connected":"keep"}}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"x","connected":"fail"},"id":"vnc-fail"}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"x","connected":"disconnect"}}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":""}}"#,
                QUERY_VNC,
            ],
        ),
        (
            "no -vnc, no -spice",
            MachineConfig::default(),
            &[
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"secret"},"id":2}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"secret"},"id":3}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"rdp","password":"secret"},"id":4}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"rdp","password":"x","connected":"later"},"id":5}"#,
                r#"{"execute":"set_password","id":6}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc"},"id":7}"#,
            ],
        ),
        (
            "-spice port=5930",
            spice(&[("port", "5930")]),
            &[
                r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"secret","connected":"fail"}}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"secret","connected":"disconnect"}}"#,
            ],
        ),
    ]);

    golden_display_expire_password => "display__expire_password", sessions(&[
        (
            "-vnc :0 (seed example and every time form)",
            vnc(":0"),
            &[
                r#"{ "execute": "expire_password", "arguments": { "protocol": "vnc", "time": "+60" } }"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"now"}}"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"never"}}"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"1300000100"}}"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"garbage"}}"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"spice","time":"now"},"id":1}"#,
                r#"{"execute":"expire_password","arguments":{"protocol":"rdp","time":"now"},"id":2}"#,
            ],
        ),
        (
            "no -vnc (0.14 crashes here; qmpsim answers DeviceNotActive)",
            MachineConfig::default(),
            &[
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"now"},"id":3}"#,
                r#"{"execute":"expire_password","id":4}"#,
            ],
        ),
        (
            "-vnc none (server exists, display closed)",
            vnc("none"),
            &[
                r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"now"},"id":5}"#,
            ],
        ),
        (
            "-spice port=5930",
            spice(&[("port", "5930")]),
            &[
                r#"{"execute":"expire_password","arguments":{"protocol":"spice","time":"+10"},"id":6}"#,
            ],
        ),
    ]);
}

#[test]
fn golden_display_client_migrate_info() {
    let seed = r#"{ "execute": "client_migrate_info", "arguments": { "protocol": "spice", "hostname": "virt42.lab.kraxel.org", "port": 1234 } }"#;
    let text = sessions(&[
        (
            "-spice port=5930 (seed example)",
            spice(&[("port", "5930")]),
            &[
                seed,
                r#"{"execute":"client_migrate_info","arguments":{"protocol":"spice","hostname":"h","port":1,"tls-port":2,"cert-subject":"C=CZ"}}"#,
                r#"{"execute":"client_migrate_info","arguments":{"protocol":"vnc","hostname":"h"},"id":1}"#,
            ],
        ),
        (
            "no -spice",
            vnc(":0"),
            &[
                seed,
                r#"{"execute":"client_migrate_info","arguments":{"protocol":"vnc","hostname":"h"},"id":2}"#,
                r#"{"execute":"client_migrate_info","id":3}"#,
                r#"{"execute":"client_migrate_info","arguments":{"protocol":"spice","hostname":"h","port":"1"},"id":4}"#,
            ],
        ),
    ]);
    snap("display__client_migrate_info", &text);
}

#[test]
fn golden_display_screendump() {
    let seed = r#"{ "execute": "screendump", "arguments": { "filename": "/tmp/image" } }"#;
    let text = sessions(&[
        (
            "-S (text mode, 720x400)",
            MachineConfig {
                start_paused: true,
                ..MachineConfig::default()
            },
            &[seed],
        ),
        (
            "missing filename",
            MachineConfig::default(),
            &[r#"{"execute":"screendump","id":1}"#],
        ),
    ]);
    let booted = timed(
        MachineConfig::default(),
        &[Step::AdvanceMs(5000), Step::Send(seed)],
    );
    snap(
        "display__screendump",
        &format!("{text}## running 5 s (graphics mode, 1024x768)\n{booted}"),
    );
}

#[test]
fn golden_display_change_vnc() {
    // `change` belongs to another module; this drives `change_vnc` directly.
    use qmpsim::machine::Machine;
    use qmpsim::qmp::commands::display::{change_vnc, query_vnc};
    use qmpsim::qmp::commands::{Args, Ctx};
    use qmpsim::qmp::session::Session;
    use qmpsim::wire::QDict;

    let mut text = String::new();
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("-vnc :0", ":0", "password", Some("0123456789")),
        ("-vnc :0", ":0", "passwd", None),
        ("no -vnc", "", "password", Some("secret")),
        ("no -vnc", "", ":1", None),
        ("-vnc none", "none", ":1,password", None),
        ("-vnc :0", ":0", "nohostport", None),
        ("-vnc :0", ":0", ":1,tls,x509", None),
        ("-vnc :0", ":0", "none", None),
    ];
    for (label, display, target, arg) in cases {
        let config = if display.is_empty() {
            MachineConfig::default()
        } else {
            vnc(display)
        };
        let mut machine = Machine::new(config);
        let mut session = Session::new(0);
        let mut ctx = Ctx {
            machine: &mut machine,
            session: &mut session,
            client: SCRIPT_CLIENT,
            followups: Vec::new(),
        };
        let r = change_vnc(&mut ctx, target, *arg);
        let after = query_vnc(&mut ctx, Args::new("", &QDict::new()));
        text.push_str(&format!(
            "## {label}: change vnc {target:?} {arg:?}\n<- {}\nquery-vnc <- {}\n",
            match &r {
                Ok(v) => v.to_json(),
                Err(e) => e.to_qobject().to_json(),
            },
            after.map(|v| v.to_json()).unwrap_or_default()
        ));
    }
    snap("display__change_vnc", &text);
}

/// `query-migrate`, as the migration goldens ask between steps.
const QUERY_MIGRATE: &str = r#"{"execute":"query-migrate"}"#;
/// `migrate` to `tcp:0:4446`.
const MIGRATE_TCP: &str = r#"{"execute":"migrate","arguments":{"uri":"tcp:0:4446"}}"#;

#[test]
fn golden_migration_migrate() {
    let seed = r#"{ "execute": "migrate", "arguments": { "uri": "tcp:0:4446" } }"#;
    let progress = timed(
        MachineConfig::default(),
        &[
            Step::Send(seed),
            Step::Send(QUERY_MIGRATE),
            Step::AdvanceMs(1000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"tcp:0:4447"},"id":"busy"}"#),
            Step::AdvanceMs(3000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"query-status"}"#),
            Step::Send(
                r#"{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null","detach":true}}"#,
            ),
            Step::Send(QUERY_MIGRATE),
            Step::MigrationFailed(2),
            Step::Send(QUERY_MIGRATE),
        ],
    );
    let errors = sessions(&[(
        "URI errors",
        MachineConfig::default(),
        &[
            r#"{"execute":"migrate","arguments":{"uri":"ftp://host/x"},"id":1}"#,
            r#"{"execute":"migrate","arguments":{"uri":"tcp:nocolon"},"id":2}"#,
            r#"{"execute":"migrate","arguments":{"uri":"tcp:host:"},"id":3}"#,
            r#"{"execute":"migrate","arguments":{"uri":"tcp:300.1.1.1:4446"},"id":4}"#,
            r#"{"execute":"migrate","arguments":{"uri":"fd:nosuch"},"id":5}"#,
            r#"{"execute":"migrate","id":6}"#,
            r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/m","blk":1},"id":7}"#,
            r#"{"execute":"query-migrate"}"#,
        ],
    )]);
    let fd = timed(
        MachineConfig::default(),
        &[
            Step::Fd(7),
            Step::Send(r#"{"execute":"getfd","arguments":{"fdname":"mig"}}"#),
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"fd:mig"}}"#),
            Step::Send(r#"{"execute":"closefd","arguments":{"fdname":"mig"},"id":"gone"}"#),
        ],
    );
    let block = timed(
        disk_config(),
        &[
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/m","blk":true}}"#),
            Step::AdvanceMs(200),
            Step::Send(QUERY_MIGRATE),
            Step::AdvanceMs(300),
            Step::Send(QUERY_MIGRATE),
        ],
    );
    let paused = timed(
        MachineConfig {
            ram_mb: 1,
            start_paused: true,
            ..MachineConfig::default()
        },
        &[
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"unix:/tmp/m","inc":true}}"#),
            Step::Send(QUERY_MIGRATE),
            Step::MigrationFailed(1),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"query-status"}"#),
        ],
    );
    let text = format!(
        "## default machine: seed example, progress, completion, failure of a later one\n{progress}{errors}\
         ## fd: URI takes the named descriptor\n{fd}\
         ## block migration, 4 MiB RAM and an 8 MiB disk\n{block}\
         ## paused 1 MiB guest: completes without STOP; a late failure leaves it paused\n{paused}"
    );
    snap("migration__migrate", &text);
}

goldens! {
    golden_migration_migrate_cancel => "migration__migrate_cancel", timed(
        MachineConfig::default(),
        &[
            Step::Send(r#"{ "execute": "migrate_cancel" }"#),
            Step::Send(QUERY_MIGRATE),
            Step::Send(MIGRATE_TCP),
            Step::AdvanceMs(500),
            Step::Send(r#"{"execute":"migrate_cancel","id":1}"#),
            Step::Send(QUERY_MIGRATE),
            Step::AdvanceMs(10000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate_cancel","arguments":{"x":1},"id":2}"#),
        ],
    );

    golden_migration_migrate_set_speed => "migration__migrate_set_speed", timed(
        MachineConfig::default(),
        &[
            Step::Send(r#"{ "execute": "migrate_set_speed", "arguments": { "value": 1024 } }"#),
            Step::Send(MIGRATE_TCP),
            Step::AdvanceMs(1000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate_set_speed","arguments":{"value":-1}}"#),
            Step::AdvanceMs(1000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate_set_speed","arguments":{"value":1073741824}}"#),
            Step::AdvanceMs(1000),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate_set_speed","arguments":{"value":1.5},"id":1}"#),
            Step::Send(r#"{"execute":"migrate_set_speed","id":2}"#),
        ],
    );

    /// At 32 MiB/s the default 30 ms downtime needs under about 1 MiB of RAM
    /// left; a 4 s downtime lets 128 MiB converge after the first chunk.
    golden_migration_migrate_set_downtime => "migration__migrate_set_downtime", timed(
        MachineConfig::default(),
        &[
            Step::Send(r#"{ "execute": "migrate_set_downtime", "arguments": { "value": 0.1 } }"#),
            Step::Send(r#"{"execute":"migrate_set_downtime","arguments":{"value":4}}"#),
            Step::Send(MIGRATE_TCP),
            Step::AdvanceMs(50),
            Step::Send(QUERY_MIGRATE),
            Step::Send(r#"{"execute":"migrate_set_downtime","arguments":{"value":"1"},"id":1}"#),
            Step::Send(r#"{"execute":"migrate_set_downtime","id":2}"#),
        ],
    );
}

#[test]
fn golden_migration_query_migrate() {
    let q = r#"{ "execute": "query-migrate" }"#;
    let ram_only = timed(
        MachineConfig::default(),
        &[
            Step::Send(q),
            Step::Send(MIGRATE_TCP),
            Step::Send(q),
            Step::AdvanceMs(100),
            Step::Send(q),
            Step::Send(r#"{"execute":"migrate_cancel"}"#),
            Step::Send(q),
            Step::Send(MIGRATE_TCP),
            Step::MigrationFailed(2),
            Step::Send(q),
            Step::Send(r#"{"execute":"migrate_set_speed","arguments":{"value":4294967295}}"#),
            Step::Send(MIGRATE_TCP),
            Step::Send(q),
            Step::Send(r#"{"execute":"query-migrate","arguments":{"x":1},"id":1}"#),
        ],
    );
    let block = timed(
        disk_config(),
        &[
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"tcp:0:4446","blk":true}}"#),
            Step::AdvanceMs(100),
            Step::Send(q),
            Step::AdvanceMs(100),
            Step::Send(q),
            Step::MigrationFailed(1),
            Step::Send(q),
            Step::Send(r#"{"execute":"migrate","arguments":{"uri":"tcp:0:4446","inc":true}}"#),
            Step::Send(q),
        ],
    );
    snap(
        "migration__query_migrate",
        &format!(
            "## default machine: none, active (ram), cancelled, failed, completed\n{ram_only}\
             ## 4 MiB RAM and an 8 MiB disk: block migration (blk, then inc)\n{block}"
        ),
    );
}

goldens! {
    golden_memory_memsave => "memory__memsave", sessions(&[(
        "default machine",
        MachineConfig::default(),
        &[
            r#"{ "execute": "memsave", "arguments": { "val": 10, "size": 100, "filename": "/tmp/virtual-mem-dump" } }"#,
            r#"{"execute":"memsave","arguments":{"val":0,"size":0,"filename":"/tmp/empty"}}"#,
            r#"{"execute":"memsave","arguments":{"val":134217700,"size":64,"filename":"/tmp/edge-of-ram"}}"#,
            r#"{"execute":"memsave","arguments":{"val":0,"size":4294967297,"filename":"/tmp/wraps-to-1"}}"#,
            r#"{"execute":"memsave","arguments":{"val":0,"size":16777217,"filename":"/tmp/too-big"},"id":1}"#,
            r#"{"execute":"memsave","arguments":{"val":0,"size":-1,"filename":"/tmp/neg"},"id":2}"#,
            r#"{"execute":"memsave","id":3}"#,
            r#"{"execute":"memsave","arguments":{"val":"0","size":1,"filename":"/tmp/x"},"id":4}"#,
        ],
    )]);
}

#[test]
fn golden_memory_pmemsave() {
    let seeded = |seed| MachineConfig {
        seed,
        ..MachineConfig::default()
    };
    let example: &[&str] = &[
        r#"{ "execute": "pmemsave", "arguments": { "val": 10, "size": 100, "filename": "/tmp/physical-mem-dump" } }"#,
    ];
    let text = sessions(&[
        ("seed 0 (same bytes as memsave)", seeded(0), example),
        ("seed 1 (different bytes)", seeded(1), example),
        (
            "errors",
            seeded(0),
            &[
                r#"{"execute":"pmemsave","arguments":{"val":0,"size":16777216,"filename":"/tmp/at-limit"}}"#,
                r#"{"execute":"pmemsave","arguments":{"val":0,"size":16777217,"filename":"/tmp/past-limit"},"id":1}"#,
                r#"{"execute":"pmemsave","arguments":{"val":0,"size":1},"id":2}"#,
            ],
        ),
    ]);
    snap("memory__pmemsave", &text);
}

goldens! {
    golden_fds_getfd => "fds__getfd", timed(
        MachineConfig::default(),
        &[
            Step::Send(r#"{ "execute": "getfd", "arguments": { "fdname": "fd1" }, "id": 1 }"#),
            Step::Fd(11),
            Step::Send(r#"{"execute":"getfd","arguments":{"fdname":"1fd"},"id":2}"#),
            Step::Send(r#"{"execute":"getfd","arguments":{"fdname":"1fd"},"id":3}"#),
            Step::Fd(12),
            Step::Send(r#"{ "execute": "getfd", "arguments": { "fdname": "fd1" } }"#),
            Step::Fd(13),
            Step::Send(r#"{"execute":"getfd","arguments":{"fdname":"fd1"},"id":"replace"}"#),
            Step::Send(r#"{"execute":"getfd","id":4}"#),
        ],
    );

    golden_fds_closefd => "fds__closefd", timed(
        MachineConfig::default(),
        &[
            Step::Send(r#"{ "execute": "closefd", "arguments": { "fdname": "fd1" } }"#),
            Step::Fd(21),
            Step::Send(r#"{"execute":"getfd","arguments":{"fdname":"fd1"}}"#),
            Step::Send(r#"{ "execute": "closefd", "arguments": { "fdname": "fd1" } }"#),
            Step::Send(r#"{"execute":"closefd","arguments":{"fdname":"fd1"},"id":1}"#),
            Step::Send(r#"{"execute":"closefd","arguments":{"fdname":7},"id":2}"#),
        ],
    );
}

#[test]
fn golden_balloon_balloon() {
    let qb = r#"{"execute":"query-balloon"}"#;
    let no_device = sessions(&[(
        "no balloon device",
        MachineConfig::default(),
        &[
            r#"{ "execute": "balloon", "arguments": { "value": 536870912 }, "id": 1 }"#,
            r#"{"execute":"balloon","arguments":{"value":0},"id":2}"#,
            r#"{"execute":"balloon","id":3}"#,
        ],
    )]);
    let device = timed(
        balloon_config(1024),
        &[
            Step::Send(r#"{ "execute": "balloon", "arguments": { "value": 536870912 } }"#),
            Step::Send(qb),
            Step::AdvanceMs(100),
            Step::Send(qb),
            Step::AdvanceMs(10000),
            Step::Send(qb),
            Step::Send(r#"{"execute":"balloon","arguments":{"value":0},"id":"stats"}"#),
            Step::Send(r#"{"execute":"balloon","arguments":{"value":4294967296}}"#),
            Step::Send(r#"{"execute":"stop"}"#),
            Step::AdvanceMs(1000),
            Step::Send(qb),
            Step::Send(r#"{"execute":"cont"}"#),
            Step::AdvanceMs(100),
            Step::Send(qb),
            Step::Send(r#"{"execute":"balloon","arguments":{"value":-1},"id":"neg"}"#),
            Step::Send(r#"{"execute":"balloon","arguments":{"value":"1G"},"id":4}"#),
        ],
    );
    snap(
        "balloon__balloon",
        &format!("{no_device}## -m 1024 -balloon virtio\n{device}"),
    );
}

#[test]
fn golden_balloon_query_balloon() {
    let q: &[&str] = &[r#"{ "execute": "query-balloon", "id": 1 }"#];
    let device_cfg = MachineConfig {
        ram_mb: 1024,
        devices: vec![opts(&[
            ("driver", "virtio-balloon-pci"),
            ("id", "balloon0"),
        ])],
        ..MachineConfig::default()
    };
    let text = sessions(&[
        ("no balloon device", MachineConfig::default(), q),
        (
            "-balloon none",
            MachineConfig {
                balloon: Some(opts(&[("type", "none")])),
                ..MachineConfig::default()
            },
            q,
        ),
        (
            "-m 1024 -balloon virtio (seed example: only actual)",
            balloon_config(1024),
            q,
        ),
        ("-m 1024 -device virtio-balloon-pci", device_cfg, q),
    ]);
    snap("balloon__query_balloon", &text);
}

#[test]
fn display_migration_balloon_session_twice_gives_same_bytes_and_digest() {
    let lines: &[&str] = &[
        r#"{"execute":"migrate_set_speed","arguments":{"value":4294967295}}"#,
        MIGRATE_TCP,
        r#"{"execute":"balloon","arguments":{"value":1048576}}"#,
        r#"{"execute":"screendump","arguments":{"filename":"/tmp/s"}}"#,
        r#"{"execute":"query-migrate"}"#,
        r#"{"execute":"query-balloon"}"#,
    ];
    let a = scenario::run(balloon_config(64), true, lines);
    let b = scenario::run(balloon_config(64), true, lines);
    assert_eq!((a.text, a.digest), (b.text, b.digest));
}
