//! Goldens of the human monitor's readers of guest memory, registers and ports
//! (`x`, `xp`, `print`, `sum`, `i`, `o`, `info registers`, `info tlb`,
//! `info mem`, `info pic`, `info roms`), its input commands (`sendkey`,
//! `mouse_move`, `mouse_button`) and the `acl_*` family with its effect on VNC
//! clients as `query-vnc` shows it; plus assertions that memory reads agree
//! with what `pmemsave` writes.

use qmpsim::machine::config::MachineConfig;
use qmpsim::machine::memory::{ram_bytes, read_phys};

use crate::golden_hmp::lines;
use crate::support::{ext_vnc, inject, paused, snap};

#[test]
fn golden_hmp_memory_readers() {
    snap(
        "hmp__memory_readers",
        &lines(
            MachineConfig::default(),
            &[
                "x/8xb 0",
                "x/4xw 0x100",
                "x/2xg 0x100",
                "x/3dh 0x10",
                "x/3u 0x10",
                "x/2o 0x10",
                "x/10c 0",
                "x 0",
                "xp/2x 0x7fffffc",
                "xp /4xb 0x1000",
                "x/2i 0",
                "x/0x 0",
                "print 255",
                "p/x 255",
                "p/x 0",
                "p/o 8",
                "p/d -1",
                "p/u -1",
                "p/c 65",
                "p/c 10",
                "p $pc",
                "sum 0 100",
                "sum 0x7fffff0 100",
                "sum 0x10000000 100",
                "sum 0 0x1000000",
                "sum 0 0x1000001",
            ],
        ),
    );
}

#[test]
fn golden_hmp_format_is_remembered() {
    snap(
        "hmp__format_is_remembered",
        &lines(
            MachineConfig::default(),
            &["x/2db 0x20", "x 0x20", "p 65", "xp/c 0x20", "p 65"],
        ),
    );
}

#[test]
fn golden_hmp_ports() {
    snap(
        "hmp__ports",
        &lines(
            MachineConfig::default(),
            &[
                "i/b 0x21",
                "i/w 0x20",
                "i 0x64",
                "i/b 0x70 .0x0a",
                "i/b 0x3f8",
                "o/b 0x21 0xff",
                "info pic",
            ],
        ),
    );
}

#[test]
fn golden_hmp_info_registers_at_reset() {
    let smp2 = MachineConfig { smp: 2, ..paused() };
    snap(
        "hmp__info_registers_at_reset",
        &lines(
            smp2,
            &["info registers", "info tlb", "info mem", "info roms"],
        ),
    );
}

#[test]
fn golden_hmp_info_registers_of_a_phenom() {
    let phenom = MachineConfig {
        cpu_model: Some("phenom".into()),
        start_paused: true,
        ..MachineConfig::default()
    };
    snap(
        "hmp__info_registers_of_a_phenom",
        &lines(phenom, &["info registers"]),
    );
}

#[test]
fn golden_hmp_input() {
    snap(
        "hmp__input",
        &lines(
            MachineConfig::default(),
            &[
                "sendkey ctrl-alt-f1",
                "sendkey ctrl-alt-delete 200",
                "sendkey 0x1d-0x38",
                "sendkey 0x00",
                "sendkey bogus",
                "sendkey verylongkeynamehere-a",
                "sendkey a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p",
                "sendkey a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q",
                "sendkey a--b",
                "mouse_move 10 -10",
                "mouse_move 1 2 3",
                "mouse_button 1",
                "mouse_button 0",
            ],
        ),
    );
}

#[test]
fn golden_hmp_acl() {
    let sasl = ext_vnc(":1,sasl,acl");
    let connect = |service: &str, user: &str| {
        inject(
            "vnc-connect",
            &format!(r#""service":"{service}","sasl_username":"{user}""#),
        )
    };
    let (fred, bob, alice) = (
        connect("50001", "fred"),
        connect("50002", "bob"),
        connect("50003", "alice"),
    );
    snap(
        "hmp__acl",
        &lines(
            sasl,
            &[
                "acl_show vnc.x509dname",
                "acl_show vnc.username",
                &fred,
                r#"{"execute":"query-vnc"}"#,
                "acl_policy vnc.username allow",
                "acl_policy vnc.username maybe",
                "acl_add vnc.username fred deny",
                "acl_add vnc.username b* allow 1",
                "acl_add vnc.username x allow 0",
                "acl_add vnc.username y perhaps",
                "acl_show vnc.username",
                &fred,
                &bob,
                &alice,
                r#"{"execute":"query-vnc"}"#,
                "acl_remove vnc.username fred",
                "acl_remove vnc.username fred",
                "acl_show vnc.username",
                "acl_reset vnc.username",
                "acl_show vnc.username",
            ],
        ),
    );
}

#[test]
fn x_reads_the_bytes_pmemsave_writes() {
    let config = MachineConfig::default();
    let text = lines(config.clone(), &["xp/8xb 0x2000"]);
    let bytes = read_phys(config.seed, ram_bytes(config.ram_mb), 0x2000, 8);
    let expected: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    assert!(
        text.contains(&format!("| 0000000000002000: {}", expected.join(" "))),
        "{text}"
    );
}
