//! The device tree of the real binary: `info qtree` over `-monitor stdio` as
//! the command line shapes it.

use super::sockets::run_to_end;

/// Runs the binary with `-monitor stdio -S` and `args`, types `lines` and
/// `q`, and returns the exit status and what the monitor printed, one entry
/// per `\r\n` line, leaving out the banner and the echoed input lines (those
/// with escape sequences).
fn monitor_lines(args: &[&str], lines: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut input = lines.join("\n");
    input.push_str("\nq\n");
    let (code, text, _) = run_to_end(&[&["-monitor", "stdio", "-S"], args].concat(), &input);
    let shown = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.contains('\x1b') && !l.is_empty())
        .map(str::to_owned)
        .collect();
    (code, shown)
}

/// The devices directly on `main-system-bus`, in printed order.
fn system_bus_devices(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("  dev: "))
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect()
}

#[test]
fn qtree_of_the_default_pc_holds_the_014_chipset() {
    let (code, lines) = monitor_lines(&["-smp", "2"], &["info qtree"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        system_bus_devices(&lines),
        ["hpet", "i440FX-pcihost", "ioapic", "fw_cfg", "apic", "apic"]
    );
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line:?} missing from {lines:#?}"))
    };
    // The ISA bus is PIIX3's child, and the floppy controller is there
    // without -fda.
    assert!(at("      dev: PIIX3, id \"\"") < at("        bus: isa.0"));
    assert_eq!(
        lines[at("        bus: isa.0") + 2],
        "          dev: isa-fdc, id \"\""
    );
    assert_eq!(
        lines[at("          dev: mc146818rtc, id \"\"") + 1],
        "            dev-prop: base_year = 2000"
    );
    assert_eq!(
        lines[at("  dev: apic, id \"\"")..at("  dev: apic, id \"\"") + 6],
        [
            "  dev: apic, id \"\"",
            "    dev-prop: id = 1",
            "    mmio ffffffffffffffff/0000000000100000",
            "  dev: apic, id \"\"",
            "    dev-prop: id = 0",
            "    mmio 00000000fee00000/0000000000100000",
        ]
    );
    let eeproms = lines
        .iter()
        .filter(|l| *l == "          dev: smbus-eeprom, id \"\"")
        .count();
    assert_eq!(eeproms, 8);
}

/// The PCI devices `info pci` lists, as `(slot, "vendor:device")`.
fn pci_ids(lines: &[String]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut slot = None;
    for l in lines {
        let l = l.trim_start();
        if let Some(rest) = l.strip_prefix("Bus  0, device ") {
            slot = rest.split(',').next().map(|s| s.trim().to_owned());
        } else if let Some(rest) = l.split(": PCI device ").nth(1) {
            if let Some(s) = slot.take() {
                found.push((s, rest.to_owned()));
            }
        }
    }
    found
}

#[test]
fn vga_option_chooses_the_card_in_info_pci_and_qtree() {
    for (vga, id, driver) in [
        ("std", "1234:1111", "VGA"),
        ("cirrus", "1013:00b8", "cirrus-vga"),
        ("vmware,retrace=precise", "15ad:0405", "vmware-svga"),
    ] {
        let (code, lines) = monitor_lines(&["-vga", vga], &["info pci", "info qtree"]);
        assert_eq!(code, Some(0));
        assert!(
            pci_ids(&lines).contains(&("2".to_owned(), id.to_owned())),
            "-vga {vga}: {lines:#?}"
        );
        assert!(
            lines.contains(&format!("      dev: {driver}, id \"\"")),
            "-vga {vga}"
        );
    }
}

#[test]
fn vga_none_leaves_no_card_even_by_default_rules() {
    let (code, lines) = monitor_lines(&["-vga", "none", "-nographic"], &["info pci"]);
    assert_eq!(code, Some(0));
    let slots: Vec<String> = pci_ids(&lines).into_iter().map(|(s, _)| s).collect();
    // The default NIC takes the slot the card would have had.
    assert_eq!(slots, ["0", "1", "1", "1", "2"]);
}

#[test]
fn nographic_keeps_the_default_cirrus_card() {
    let (_, lines) = monitor_lines(&["-nographic"], &["info pci"]);
    assert!(pci_ids(&lines).contains(&("2".to_owned(), "1013:00b8".to_owned())));
}

#[test]
fn no_hpet_gives_the_rtc_its_isa_irq() {
    let (_, lines) = monitor_lines(&["-no-hpet"], &["info qtree"]);
    assert!(!lines.iter().any(|l| l == "  dev: hpet, id \"\""));
    let rtc = lines
        .iter()
        .position(|l| l == "          dev: mc146818rtc, id \"\"")
        .expect("the RTC is listed");
    assert_eq!(lines[rtc + 2], "            isa irq 8");
}

#[test]
fn screendump_without_a_card_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let with = dir.path().join("with.ppm");
    let without = dir.path().join("without.ppm");
    monitor_lines(&[], &[&format!("screendump {}", with.display())]);
    monitor_lines(
        &["-vga", "none"],
        &[&format!("screendump {}", without.display())],
    );
    assert!(with.exists() && !without.exists());
}

#[test]
fn device_driver_question_mark_prints_its_properties_and_exits_0() {
    let (code, out, err) = super::support::qmpsim(&["-device", "ne2k_isa,?"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    assert_eq!(
        err,
        "ne2k_isa.iobase=hex32\nne2k_isa.irq=uint32\nne2k_isa.mac=macaddr\nne2k_isa.vlan=vlan\nne2k_isa.netdev=netdev\nne2k_isa.bootindex=int32\n"
    );
    // An alias answers under the driver's name; a driver of the list the
    // model cannot create answers too.
    let (code, _, err) = super::support::qmpsim(&["-device", "lsi,?"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let (code, _, err) = super::support::qmpsim(&["-device", "isa-debugcon,?"]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(0),
            "isa-debugcon.iobase=hex32\nisa-debugcon.chardev=chr\nisa-debugcon.readback=hex32\n"
        )
    );
}

#[test]
fn device_add_driver_question_mark_over_the_human_monitor() {
    let (code, lines) = monitor_lines(&[], &["device_add virtserialport,?"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        lines,
        [
            "virtserialport.nr=uint32",
            "virtserialport.chardev=chr",
            "virtserialport.name=string",
        ]
    );
}

#[test]
fn soundhw_cards_join_the_tree_after_ide_in_table_order() {
    let (code, lines) = monitor_lines(&["-soundhw", "hda,sb16,ac97"], &["info pci", "info qtree"]);
    assert_eq!(code, Some(0));
    let ids = pci_ids(&lines);
    assert!(
        ids.contains(&("4".to_owned(), "8086:2415".to_owned())),
        "{ids:?}"
    );
    assert!(
        ids.contains(&("5".to_owned(), "8086:2668".to_owned())),
        "{ids:?}"
    );
    let hda = lines
        .iter()
        .position(|l| l == "        bus: hda.0")
        .expect("intel-hda has its codec bus");
    assert_eq!(
        lines[hda + 2..hda + 5],
        [
            "          dev: hda-duplex, id \"\"",
            "            dev-prop: debug = 0",
            "            bus-prop: cad = 0",
        ]
    );
    assert!(lines.iter().any(|l| l == "          dev: sb16, id \"\""));
}
