//! QEMU 0.14's refusals of bad option values, through the binary: each row is
//! an option, the message qmpsim prints, its exit status, and the 0.14 source
//! that prints it (file:line in QEMU's v0.14.0 tag, commit 0850f81099cf).
//! The options that print a list and exit (`-soundhw ?`, `-clock ?`, `-net
//! nic,model=?`, and the bad values whose refusal ends with the list) are a
//! second table, with what they print on stdout.
//!
//! Every run also has a QMP monitor on a unix socket: the refusal comes before
//! it opens, so the socket file never appears. A run that is not refused reads
//! `quit` on its stdin QMP monitor and exits 0, so a failing row fails fast.

use std::io::Write;
use std::process::{Command, Stdio};

/// One refused command line.
struct Refusal {
    /// The options (`{dir}` is a scratch directory holding `raw.img`, a raw
    /// image of [`RAW_IMAGE_BYTES`]).
    args: &'static [&'static str],
    /// Everything on stderr.
    message: &'static str,
    /// The exit status.
    status: i32,
    /// Where 0.14 prints it.
    source: &'static str,
}

/// Size of the raw image the drive rows name.
const RAW_IMAGE_BYTES: u64 = 1 << 20;

const REFUSALS: &[Refusal] = &[
    Refusal {
        args: &["-drive", "file={dir}/raw.img,format=bogus"],
        message:
            "qemu-system-x86_64: -drive file={dir}/raw.img,format=bogus: 'bogus' invalid format\n",
        status: 1,
        source: "blockdev.c:365 drive_init()",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,format=qcow2"],
        message: "qemu-system-x86_64: -drive file={dir}/raw.img,format=qcow2: could not open disk \
                  image {dir}/raw.img: Invalid argument\n",
        status: 1,
        source: "blockdev.c:537 drive_init(), block/qcow2.c:168 qcow2_open() -EINVAL",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,format=qcow"],
        message: "qemu-system-x86_64: -drive file={dir}/raw.img,format=qcow: could not open disk \
                  image {dir}/raw.img: Operation not permitted\n",
        status: 1,
        source: "blockdev.c:537 drive_init(), block/qcow.c:109 qcow_open() -1",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,format=vmdk"],
        message: "qemu-system-x86_64: -drive file={dir}/raw.img,format=vmdk: could not open disk \
                  image {dir}/raw.img: Operation not permitted\n",
        status: 1,
        source: "blockdev.c:537 drive_init(), block/vmdk.c:405 vmdk_open() -1",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,cache=bogus"],
        message:
            "qemu-system-x86_64: -drive file={dir}/raw.img,cache=bogus: invalid cache option\n",
        status: 1,
        source: "blockdev.c:338 drive_init()",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,aio=bogus"],
        message: "qemu-system-x86_64: -drive file={dir}/raw.img,aio=bogus: invalid aio option\n",
        status: 1,
        source: "blockdev.c:350 drive_init()",
    },
    Refusal {
        args: &["-drive", "if=usb"],
        message: "qemu-system-x86_64: -drive if=usb: unsupported bus type 'usb'\n",
        status: 1,
        source: "blockdev.c:273 drive_init()",
    },
    Refusal {
        args: &["-drive", "cyls=20000,heads=16,secs=63"],
        message: "qemu-system-x86_64: -drive cyls=20000,heads=16,secs=63: invalid physical cyls \
                  number\n",
        status: 1,
        source: "blockdev.c:281 drive_init()",
    },
    Refusal {
        args: &["-drive", "trans=lba"],
        message: "qemu-system-x86_64: -drive trans=lba: 'lba' trans must be used with cyls,heads \
                  and secs\n",
        status: 1,
        source: "blockdev.c:296 drive_init()",
    },
    Refusal {
        args: &["-drive", "cyls=2,heads=2,secs=2,trans=big"],
        message: "qemu-system-x86_64: -drive cyls=2,heads=2,secs=2,trans=big: 'big' invalid \
                  translation type\n",
        status: 1,
        source: "blockdev.c:307 drive_init()",
    },
    Refusal {
        args: &["-drive", "cyls=2,heads=2,secs=2,media=cdrom"],
        message: "qemu-system-x86_64: -drive cyls=2,heads=2,secs=2,media=cdrom: 'cdrom' invalid \
                  physical CHS format\n",
        status: 1,
        source: "blockdev.c:317 drive_init()",
    },
    Refusal {
        args: &["-drive", "media=tape"],
        message: "qemu-system-x86_64: -drive media=tape: 'tape' invalid media\n",
        status: 1,
        source: "blockdev.c:322 drive_init()",
    },
    Refusal {
        args: &["-drive", "if=floppy,werror=stop"],
        message: "qemu-system-x86_64: -drive if=floppy,werror=stop: werror is not supported by \
                  this bus type\n",
        status: 1,
        source: "blockdev.c:373 drive_init()",
    },
    Refusal {
        args: &["-drive", "werror=explode"],
        message:
            "qemu-system-x86_64: -drive werror=explode: 'explode' invalid write error action\n",
        status: 1,
        source: "blockdev.c:216 parse_block_error_action()",
    },
    Refusal {
        args: &["-drive", "addr=5"],
        message: "qemu-system-x86_64: -drive addr=5: addr is not supported by this bus type\n",
        status: 1,
        source: "blockdev.c:398 drive_init()",
    },
    Refusal {
        args: &["-drive", "index=1,unit=1"],
        message: "qemu-system-x86_64: -drive index=1,unit=1: index cannot be used with bus and \
                  unit\n",
        status: 1,
        source: "blockdev.c:407 drive_init()",
    },
    Refusal {
        args: &["-drive", "unit=2"],
        message: "qemu-system-x86_64: -drive unit=2: unit 2 too big (max is 1)\n",
        status: 1,
        source: "blockdev.c:432 drive_init()",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,readonly=on"],
        message: "qemu-system-x86_64: -drive file={dir}/raw.img,readonly=on: readonly not \
                  supported by this bus type\n",
        status: 1,
        source: "blockdev.c:528 drive_init()",
    },
    Refusal {
        args: &["-drive", "index=x"],
        message: "qemu-system-x86_64: -drive index=x: Parameter 'index' expects a number\n",
        status: 1,
        source: "qemu-option.c:196 parse_option_number()",
    },
    Refusal {
        args: &["-drive", "snapshot=yes"],
        message: "qemu-system-x86_64: -drive snapshot=yes: Parameter 'snapshot' expects 'on' or \
                  'off'\n",
        status: 1,
        source: "qemu-option.c:179 parse_option_bool()",
    },
    Refusal {
        args: &[
            "-drive",
            "file={dir}/raw.img,index=0",
            "-hda",
            "{dir}/raw.img",
        ],
        message: "qemu-system-x86_64: -hda {dir}/raw.img: drive with bus=0, unit=0 (index=0) \
                  exists\n",
        status: 1,
        source: "blockdev.c:442 drive_init()",
    },
    Refusal {
        args: &["-incoming", "bogus:1"],
        message: "unknown migration protocol: bogus:1\n\
                  Migration failed. Exit code bogus:1(-93), exiting.\n",
        status: 163,
        source: "migration.c:58 qemu_start_incoming_migration(), vl.c:3126 main()",
    },
    Refusal {
        args: &["-incoming", "tcp:1.2.3.999:4444"],
        message: "invalid host/port combination: 1.2.3.999:4444\n\
                  Migration failed. Exit code tcp:1.2.3.999:4444(-22), exiting.\n",
        status: 234,
        source: "migration-tcp.c:179 tcp_start_incoming_migration(), vl.c:3126 main()",
    },
    Refusal {
        args: &["-boot", "z"],
        message: "Invalid boot device 'z'\n",
        status: 1,
        source: "vl.c:700 validate_bootdevices()",
    },
    Refusal {
        args: &["-boot", "order=cdc"],
        message: "Boot device 'c' was given twice\n",
        status: 1,
        source: "vl.c:704 validate_bootdevices()",
    },
    Refusal {
        args: &["-boot", "foo=bar"],
        message: "qemu: unknown boot parameter 'foo' in 'foo=bar'\n",
        status: 1,
        source: "vl.c:2181 main(), QEMU_OPTION_boot",
    },
    Refusal {
        args: &["-boot", "menu=maybe"],
        message: "qemu: invalid option value 'maybe'\n",
        status: 1,
        source: "vl.c:2208 main(), QEMU_OPTION_boot",
    },
    Refusal {
        args: &["-net", "nic,model=bogus"],
        message: "qemu-system-x86_64: qemu: Unsupported NIC model: bogus\n",
        status: 1,
        source: "net.c:771 qemu_find_nic_model()",
    },
    Refusal {
        args: &["-net", "nic,macaddr=52:54:00"],
        message: "qemu-system-x86_64: -net nic,macaddr=52:54:00: invalid syntax for ethernet \
                  address\nqemu-system-x86_64: -net nic,macaddr=52:54:00: Device 'nic' could not \
                  be initialized\n",
        status: 1,
        source: "net.c:846 net_init_nic(), net.c:1172 net_client_init()",
    },
    Refusal {
        args: &["-net", "user,ifname=tap0"],
        message: "qemu-system-x86_64: -net user,ifname=tap0: Invalid parameter 'ifname'\n",
        status: 1,
        source: "qemu-option.c:947 qemu_opts_validate()",
    },
    Refusal {
        args: &["-netdev", "user,id=u,vlan=1"],
        message: "qemu-system-x86_64: -netdev user,id=u,vlan=1: Invalid parameter 'vlan'\n",
        status: 1,
        source: "net.c:1133 net_client_init()",
    },
    Refusal {
        args: &["-spice", "port=abc"],
        message: "qemu-system-x86_64: -spice port=abc: Parameter 'port' expects a number\n\
                  parse error: port=abc\n",
        status: 1,
        source: "qemu-option.c:196 parse_option_number(), vl.c:2734 main(), QEMU_OPTION_spice",
    },
    Refusal {
        args: &["-spice", "port=5900,image-compression=zip"],
        message: "spice: invalid image compression: zip\n",
        status: 1,
        source: "ui/spice-core.c:298 parse_name()",
    },
    Refusal {
        args: &["-rtc", "base=garbage"],
        message: "Invalid date format. Valid formats are:\n'2006-06-17T16:01:21' or '2006-06-17'\n",
        status: 1,
        source: "vl.c:384 configure_rtc_date_offset()",
    },
    Refusal {
        args: &["-rtc", "clock=rt"],
        message: "qemu: invalid option value 'rt'\n",
        status: 1,
        source: "vl.c:413 configure_rtc()",
    },
    Refusal {
        args: &["-rtc", "driftfix=fast"],
        message: "qemu: invalid option value 'fast'\n",
        status: 1,
        source: "vl.c:424 configure_rtc()",
    },
    Refusal {
        args: &["-vnc", "bogus"],
        message: "inet_parse: hostname parse error (bogus)\n",
        status: 1,
        source: "qemu-sockets.c:440 inet_parse()",
    },
    Refusal {
        args: &["-vnc", ":0,tls,x509"],
        message: "No certificate path provided\n",
        status: 1,
        source: "ui/vnc.c:2611 vnc_display_open()",
    },
    Refusal {
        args: &["-net", "user,hostfwd=tcp::22"],
        message: "qemu-system-x86_64: -net user,hostfwd=tcp::22: invalid host forwarding rule \
                  'tcp::22'\nqemu-system-x86_64: -net user,hostfwd=tcp::22: Device 'user' could \
                  not be initialized\n",
        status: 1,
        source: "net/slirp.c:423 slirp_hostfwd(), net.c:1172 net_client_init()",
    },
    Refusal {
        args: &["-netdev", "user,id=u,hostfwd=::22-:22,hostfwd=::22-:23"],
        message: "qemu-system-x86_64: -netdev user,id=u,hostfwd=::22-:22,hostfwd=::22-:23: could \
                  not set up host forwarding rule '::22-:22'\nqemu-system-x86_64: -netdev \
                  user,id=u,hostfwd=::22-:22,hostfwd=::22-:23: Device 'user' could not be \
                  initialized\n",
        status: 1,
        source: "net/slirp.c:416 slirp_hostfwd() (the rules last first, net/slirp.c:673), \
                 net.c:1172 net_client_init()",
    },
    Refusal {
        args: &["-usbdevice", "tablet:x"],
        message: "qemu-system-x86_64: usbdevice tablet accepts no params\n\
                  qemu: could not add USB device 'tablet:x'\n",
        status: 1,
        source: "hw/usb-bus.c:388 usbdevice_create(), vl.c:961 usb_parse()",
    },
    Refusal {
        args: &["-device", "bogus"],
        message: "qemu-system-x86_64: -device bogus: Parameter 'driver' expects a driver name\n\
                  Try with argument '?' for a list.\n",
        status: 1,
        source: "hw/qdev.c:211 qdev_device_add(), hw/qdev.c:212",
    },
    Refusal {
        args: &["-device", "isa-fdc"],
        message: "qemu-system-x86_64: -device isa-fdc: Parameter 'driver' expects a driver name\n\
                  Try with argument '?' for a list.\n",
        status: 1,
        source: "hw/fdc.c:2056 no_user, hw/qdev.c:210 qdev_device_add()",
    },
    Refusal {
        args: &["-usbdevice", "bogus"],
        message: "qemu: could not add USB device 'bogus'\n",
        status: 1,
        source: "vl.c:927 usb_device_add(), vl.c:961 usb_parse()",
    },
    Refusal {
        args: &["-drive", "file={dir}/raw.img,format=?"],
        message: "Supported formats: raw cow qcow vdi vmdk cloop dmg bochs vpc vvfat qcow2 qed \
                  parallels nbd blkdebug sheepdog blkverify host_cdrom host_floppy host_device \
                  file tftp ftps ftp https http\n",
        status: 1,
        source: "blockdev.c:358 drive_init() returns NULL, vl.c:2921 main()",
    },
    Refusal {
        args: &["-drive", "cache=bogus,format=?"],
        message: "qemu-system-x86_64: -drive cache=bogus,format=?: invalid cache option\n",
        status: 1,
        source: "blockdev.c:338 drive_init(), before the format at blockdev.c:356",
    },
    Refusal {
        args: &["-vga", "bogus"],
        message: "Unknown vga type: bogus\n",
        status: 1,
        source: "vl.c:1529 select_vgahw()",
    },
    Refusal {
        args: &["-vga", "stdio"],
        message: "Unknown vga type: stdio\n",
        status: 1,
        source: "vl.c:1517 select_vgahw() strstart(\"std\"), vl.c:1529",
    },
    Refusal {
        args: &["-vga", "cirrus,retrace=fast"],
        message: "Unknown vga type: cirrus,retrace=fast\n",
        status: 1,
        source: "vl.c:1541 select_vgahw(), vl.c:1529",
    },
    Refusal {
        args: &["-append", "console=ttyS0"],
        message: "-append only allowed with -kernel option\n",
        status: 1,
        source: "vl.c:2881 main()",
    },
    Refusal {
        args: &["-initrd", "{dir}/raw.img"],
        message: "-initrd only allowed with -kernel option\n",
        status: 1,
        source: "vl.c:2886 main()",
    },
    Refusal {
        args: &["-clock", "unix", "-clock", "bogus"],
        message: "could not initialize alarm timer\n",
        status: 1,
        source: "qemu-timer.c:352 configure_alarms() swaps the disabled slot first, vl.c:2893 \
                 main()",
    },
];

/// One command line that prints a list and exits.
struct Listing {
    /// The options.
    args: &'static [&'static str],
    /// Everything on stdout.
    stdout: &'static str,
    /// Everything on stderr.
    stderr: &'static str,
    /// The exit status.
    status: i32,
    /// Where 0.14 prints it.
    source: &'static str,
}

/// `-soundhw ?` on a default x86_64 build (arch_init.c `soundhw[]`).
const SOUND_CARDS: &str = "Valid sound card names (comma separated):\n\
    pcspk       PC speaker\n\
    sb16        Creative Sound Blaster 16\n\
    ac97        Intel 82801AA AC97 Audio\n\
    es1370      ENSONIQ AudioPCI ES1370\n\
    hda         Intel HD Audio\n\
    \n\
    -soundhw all will enable all of the above\n";

/// `-clock ?` on Linux (qemu-timer.c `alarm_timers[]`).
const ALARM_TIMERS: &str = "Available alarm timers, in order of precedence:\n\
    dynticks\nhpet\nrtc\nunix\n";

const LISTINGS: &[Listing] = &[
    Listing {
        args: &["-soundhw", "?"],
        stdout: SOUND_CARDS,
        stderr: "",
        status: 0,
        source: "arch_init.c:573 select_soundhw(), exit(*optarg != '?')",
    },
    Listing {
        args: &["-soundhw", "sb16,bogus,gus"],
        stdout: SOUND_CARDS,
        stderr: "Unknown sound card name `bogus'\nUnknown sound card name `gus'\n",
        status: 1,
        source: "arch_init.c:611 select_soundhw(), then the list at arch_init.c:573",
    },
    Listing {
        args: &[
            "-soundhw",
            "an-unknown-sound-card-name-of-more-than-eighty-bytes-which-0.14-does-not-quote-at-all",
        ],
        stdout: SOUND_CARDS,
        stderr: "Unknown sound card name (too big to show)\n",
        status: 1,
        source: "arch_init.c:608 select_soundhw()",
    },
    Listing {
        args: &["-clock", "?"],
        stdout: ALARM_TIMERS,
        stderr: "",
        status: 0,
        source: "qemu-timer.c:329 configure_alarms(), show_available_alarms() at qemu-timer.c:314",
    },
    Listing {
        args: &["-clock", "bogus"],
        stdout: ALARM_TIMERS,
        stderr: "Unknown clock bogus\n",
        status: 1,
        source: "qemu-timer.c:344 configure_alarms(), then qemu-timer.c:369",
    },
    Listing {
        args: &["-clock", "unix,rtc", "-clock", "?"],
        stdout: "Available alarm timers, in order of precedence:\nunix\nrtc\n",
        stderr: "",
        status: 0,
        source: "qemu-timer.c:366 configure_alarms() disables the timers not named",
    },
    Listing {
        args: &["-net", "nic,model=?"],
        stdout: "",
        stderr: "qemu: Supported NIC models: \
                 ne2k_pci,i82551,i82557b,i82559er,rtl8139,e1000,pcnet,virtio\n",
        status: 0,
        source: "net.c:739 qemu_show_nic_models(), hw/pci.c:1538 pci_nic_init_nofail() exit(0)",
    },
];

#[test]
fn every_listing_prints_0_14s_list_and_status_before_any_monitor_opens() {
    let (_tmp, dir) = scratch_dir();
    assert_rows_agree(LISTINGS.iter().map(|l| {
        let args: Vec<String> = l.args.iter().map(|a| (*a).to_owned()).collect();
        let expected = (
            Some(l.status),
            l.stdout.to_owned(),
            l.stderr.to_owned(),
            false,
        );
        mismatch(&args, l.source, &expected, &run(&dir, &args))
    }));
}

#[test]
fn device_question_mark_lists_the_user_drivers_on_stderr_and_exits_0() {
    // hw/qdev.c:161 qdev_device_help(), vl.c:2991 exit(0); the list itself
    // is reviewed in golden/hmp__qdm.snap (`device_add ?`).
    let (_tmp, dir) = scratch_dir();
    let (status, stdout, stderr, created) = run(&dir, &["-device".to_owned(), "?".to_owned()]);
    assert_eq!(
        (status, stdout, stderr, created),
        (
            Some(0),
            String::new(),
            qmpsim::machine::devices::qdm::qdm_text(true),
            false
        )
    );
}

#[test]
fn an_unknown_clock_beside_a_known_one_is_reported_and_the_vm_runs() {
    // qemu-timer.c:344 reports it; a known timer was named, so 0.14 goes on.
    let (_tmp, dir) = scratch_dir();
    let args = ["-clock", "bogus,unix"].map(str::to_owned).to_vec();
    let (status, message, _) = refused(&dir, &args);
    assert_eq!(
        (status, message),
        (Some(0), "Unknown clock bogus\n".to_owned())
    );
}

/// A fresh temporary directory (removed when the first value drops) and its
/// path as text.
fn scratch_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    (dir, path)
}

/// What a table row whose run (`args`, checked against 0.14's `source`) gave
/// `got` instead of `expected` reports, or `None` when they agree.
fn mismatch<T: PartialEq + std::fmt::Debug>(
    args: &[String],
    source: &str,
    expected: &T,
    got: &T,
) -> Option<String> {
    (got != expected)
        .then(|| format!("{args:?} ({source}):\n  expected {expected:?}\n  got      {got:?}"))
}

/// Asserts that every row of a table agrees with its run, listing each
/// [`mismatch`] when not.
#[track_caller]
fn assert_rows_agree(reports: impl Iterator<Item = Option<String>>) {
    let failures: Vec<String> = reports.flatten().collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs the binary on `args` with a QMP monitor on a unix socket in `dir` and
/// one on stdio that is told to quit: the status, stderr, and whether the
/// socket was created.
fn refused(dir: &str, args: &[String]) -> (Option<i32>, String, bool) {
    let (status, _, stderr, created) = run(dir, args);
    (status, stderr, created)
}

/// [`refused`] with stdout too: the status, stdout, stderr, and whether the
/// socket was created.
fn run(dir: &str, args: &[String]) -> (Option<i32>, String, String, bool) {
    let socket = format!("{dir}/qmp.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(args)
        .args([
            "-qmp",
            &format!("unix:{socket},server,nowait"),
            "-qmp",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the built binary starts");
    // A refused run has exited already; a broken pipe then means nothing.
    let _ = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"quit\"}\n");
    let out = child.wait_with_output().expect("the binary ends");
    let created = std::path::Path::new(&socket).exists();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        created,
    )
}

#[test]
fn every_refusal_has_0_14s_message_and_status_before_any_monitor_opens() {
    let (_tmp, dir) = scratch_dir();
    std::fs::File::create(format!("{dir}/raw.img"))
        .and_then(|f| f.set_len(RAW_IMAGE_BYTES))
        .unwrap();
    let fill = |s: &str| s.replace("{dir}", &dir);
    assert_rows_agree(REFUSALS.iter().map(|r| {
        let args: Vec<String> = r.args.iter().map(|a| fill(a)).collect();
        let expected = (Some(r.status), fill(r.message), false);
        mismatch(&args, r.source, &expected, &refused(&dir, &args))
    }));
}

#[test]
fn an_unresolvable_vnc_host_is_refused_by_getaddrinfo() {
    let (_tmp, dir) = scratch_dir();
    let (status, message, created) = refused(
        &dir,
        &["-vnc".to_owned(), "bogus.invalid:display".to_owned()],
    );
    // gai_strerror's text depends on the resolver (no network: a temporary
    // failure); 0.14's form (qemu-sockets.c:152 inet_listen_opts()) does not.
    assert_eq!(
        (
            status,
            message.starts_with("getaddrinfo(bogus.invalid,5900): "),
            created
        ),
        (Some(1), true, false),
        "{message}"
    );
}

#[test]
fn values_0_14_accepts_still_start_the_vm() {
    let (_tmp, dir) = scratch_dir();
    let image = format!("{dir}/raw.img");
    std::fs::File::create(&image).unwrap();
    let args: Vec<String> = [
        "-drive",
        &format!("file={image},format=raw,cache=none,aio=native,if=virtio"),
        "-boot",
        "order=cdn,menu=on",
        "-net",
        "nic,model=virtio,macaddr=52:54:00:12:34:99",
        "-rtc",
        "base=utc,clock=vm",
        "-spice",
        "port=5930,disable-ticketing",
        "-vnc",
        "127.0.0.1:1",
        "-vga",
        "std,retrace=dumb,retrace=precise",
        "-soundhw",
        "all",
        "-clock",
        "hpet,unix",
        "-kernel",
        &image,
        "-append",
        "console=ttyS0",
        "-initrd",
        &image,
    ]
    .map(str::to_owned)
    .to_vec();
    // The run quits through its stdio monitor (and removes its socket then).
    let (status, message, _) = refused(&dir, &args);
    assert_eq!((status, message), (Some(0), String::new()));
}
