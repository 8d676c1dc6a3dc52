//! `MachineConfig`: everything the command line decides about the VM, as plain data.
//!
//! The CLI (`src/cli`) fills it; the machine model is built from it; a trace header
//! stores it, so replay needs neither the command line nor the files it named
//! (disk image probes are stored here too). Order of every list is command-line
//! order. No I/O.

use serde::{Deserialize, Serialize};

use super::watchdog::{WatchdogAction, WatchdogModel};

/// Default RAM size in MiB (0.14's `DEFAULT_RAM_SIZE`).
pub const RAM_MB_DEFAULT: u64 = 128;
/// Default epoch for event timestamps: 2011-03-13T07:06:40Z, as in the QMP docs.
pub const EPOCH_S_DEFAULT: i64 = 1_300_000_000;
/// Largest `-smp` count (0.14's pc machine `max_cpus`).
pub const SMP_CPUS_MAX: u32 = 255;

/// The whole configuration of one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineConfig {
    /// `-name`.
    pub name: Option<String>,
    /// `-uuid`, lowercase canonical form.
    pub uuid: Option<String>,
    /// `-m`, in MiB.
    pub ram_mb: u64,
    /// `-smp` CPU count.
    pub smp: u32,
    /// `-S`: do not start the CPUs.
    pub start_paused: bool,
    /// `-M`/`-machine` type.
    pub machine: String,
    /// `-cpu` model.
    pub cpu_model: Option<String>,
    /// `-enable-kvm` (and not `-no-kvm`).
    pub kvm: bool,
    /// `-drive`, `-hda`..`-hdd`, `-cdrom`, `-fda`/`-fdb`, in command-line order.
    pub drives: Vec<DriveConfig>,
    /// `-device`, in order.
    pub devices: Vec<OptionList>,
    /// `-netdev`, in order.
    pub netdevs: Vec<OptionList>,
    /// `-net`, in order (first value is the kind: nic, user, tap, socket, none...).
    pub nets: Vec<OptionList>,
    /// `-vnc` display string.
    pub vnc: Option<String>,
    /// `-spice` options.
    pub spice: Option<OptionList>,
    /// `-balloon` (`none` or `virtio[,addr=...]`).
    pub balloon: Option<OptionList>,
    /// `-incoming` URI.
    pub incoming: Option<String>,
    /// Character devices in creation order (monitors' own chardevs included).
    pub chardevs: Vec<ChardevConfig>,
    /// Monitors (`-qmp`, `-monitor`, `-mon`), in order.
    pub monitors: Vec<MonitorConfig>,
    /// `-serial` specs (empty means the default).
    pub serials: Vec<String>,
    /// `-parallel` specs (empty means the default).
    pub parallels: Vec<String>,
    /// `-nodefaults`.
    pub nodefaults: bool,
    /// `-nographic`.
    pub nographic: bool,
    /// `-no-shutdown`.
    pub no_shutdown: bool,
    /// `-no-reboot`.
    pub no_reboot: bool,
    /// `-usb` (or `-usbdevice`).
    pub usb: bool,
    /// `-usbdevice` names, in order.
    pub usb_devices: Vec<String>,
    /// `-boot` spec.
    pub boot: Option<String>,
    /// `-rtc` spec.
    pub rtc: Option<String>,
    /// `-watchdog` model.
    #[serde(with = "crate::machine::watchdog::by_name")]
    pub watchdog: Option<WatchdogModel>,
    /// `-watchdog-action`.
    #[serde(with = "crate::machine::watchdog::by_name")]
    pub watchdog_action: Option<WatchdogAction>,
    /// Seed of the machine's one rng.
    pub seed: u64,
    /// Seconds since the Unix epoch at virtual time zero (event timestamps).
    pub epoch_s: i64,
    /// Whether `x-` extension commands are enabled.
    pub extensions: bool,
    /// How virtual time moves without input (`-x-clock`).
    pub clock: crate::machine::clock::ClockMode,
    /// `-no-acpi`: no ACPI hardware (no PIIX4 power management function, and the
    /// power button reaches no guest).
    pub no_acpi: bool,
    /// `-singlestep`: start in single-step mode (`query-status`).
    pub singlestep: bool,
    /// The last `-vga` type given (`select_vgahw`); none given: the default
    /// Cirrus card unless `-nodefaults` or a `-device` display adapter.
    pub vga: Option<VgaType>,
    /// `-no-hpet`: no HPET on the system bus (the RTC then takes ISA IRQ 8).
    pub no_hpet: bool,
    /// `-soundhw`: the enabled sound cards, in 0.14's `soundhw[]` order.
    pub sound_cards: Vec<String>,
    /// How the simulated guest behaves (`-x-guest`).
    pub guest: GuestConfig,
    /// A happening placed at a gap of the monitor byte stream
    /// (`-x-explore-gap`; see `crate::machine::placement`).
    pub placement: Option<crate::machine::placement::Placement>,
    /// Timed fault steps (`-x-scenario`; see `crate::machine::scenario_steps`).
    pub scenario: Vec<crate::machine::scenario_steps::ScenarioStep>,
    /// Seeded misbehaviour (`-x-chaos`; see `crate::machine::chaos`).
    pub chaos: Option<crate::machine::chaos::ChaosConfig>,
}

/// `-vga` types of 0.14 (`vga_interface_type` of vl.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VgaType {
    /// `std`: the Bochs-ID `VGA` card.
    Std,
    /// `cirrus`: `cirrus-vga`.
    Cirrus,
    /// `vmware`: `vmware-svga`.
    Vmware,
    /// `xenfb`: no card on the pc machine (`pc_vga_init` has no case for it).
    Xenfb,
    /// `qxl`: `qxl-vga`, which the model does not create.
    Qxl,
    /// `none`: no card.
    None,
}

impl VgaType {
    /// The qdev driver `pc_vga_init` (hw/pc.c:1046) creates on a PCI bus, if
    /// the model has it.
    pub fn driver(self) -> Option<&'static str> {
        match self {
            VgaType::Std => Some("VGA"),
            VgaType::Cirrus => Some("cirrus-vga"),
            VgaType::Vmware => Some("vmware-svga"),
            VgaType::Xenfb | VgaType::Qxl | VgaType::None => None,
        }
    }
}

/// Default delay of the guest's ACPI shutdown after the power button, in ms
/// (the seeded rng adds up to 500 ms).
pub const GUEST_SHUTDOWN_MS_DEFAULT: u64 = 1_500;
/// Longest ACPI shutdown delay `-x-guest shutdown-ms=` accepts (one hour).
pub const GUEST_SHUTDOWN_MS_MAX: u64 = 3_600_000;

/// The simulated guest's behaviour, from `-x-guest acpi=on|off,shutdown-ms=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestConfig {
    /// Whether the guest OS acts on the ACPI power button (an OS without acpid
    /// ignores it).
    pub acpi: bool,
    /// How long its ACPI shutdown takes, in ms.
    pub shutdown_ms: u64,
}

impl Default for GuestConfig {
    fn default() -> Self {
        GuestConfig {
            acpi: true,
            shutdown_ms: GUEST_SHUTDOWN_MS_DEFAULT,
        }
    }
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            name: None,
            uuid: None,
            ram_mb: RAM_MB_DEFAULT,
            smp: 1,
            start_paused: false,
            machine: "pc".to_owned(),
            cpu_model: None,
            kvm: false,
            drives: Vec::new(),
            devices: Vec::new(),
            netdevs: Vec::new(),
            nets: Vec::new(),
            vnc: None,
            spice: None,
            balloon: None,
            incoming: None,
            chardevs: Vec::new(),
            monitors: Vec::new(),
            serials: Vec::new(),
            parallels: Vec::new(),
            nodefaults: false,
            nographic: false,
            no_shutdown: false,
            no_reboot: false,
            usb: false,
            usb_devices: Vec::new(),
            boot: None,
            rtc: None,
            watchdog: None,
            watchdog_action: None,
            seed: 0,
            epoch_s: EPOCH_S_DEFAULT,
            extensions: false,
            clock: crate::machine::clock::ClockMode::Idle,
            no_acpi: false,
            singlestep: false,
            vga: None,
            no_hpet: false,
            sound_cards: Vec::new(),
            guest: GuestConfig::default(),
            placement: None,
            scenario: Vec::new(),
            chaos: None,
        }
    }
}

/// A QEMU option list (`driver,key=value,key2=value2`) in the order written.
/// A bare first item (no `=`) is stored under the key given by the option's
/// "implied" name (for example `driver` for `-device`, `type` for `-netdev`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OptionList {
    /// `(key, value)` pairs in order; a flag without `=` has value `"on"`.
    pub items: Vec<(String, String)>,
}

impl OptionList {
    /// Splits a QEMU option string at commas, `,,` standing for a literal comma.
    pub fn split_items(s: &str) -> Vec<String> {
        let mut items = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != ',' {
                cur.push(c);
            } else if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                items.push(std::mem::take(&mut cur));
            }
        }
        items.push(cur);
        items.retain(|i| !i.is_empty());
        items
    }

    /// Parses `first,key=value,flag,noflag` as 0.14's `qemu_opts_do_parse`: a bare first
    /// item goes under `implied` when given; other bare items are flags, `on`, or `off`
    /// when written with a `no` prefix.
    pub fn parse(s: &str, implied: Option<&str>) -> OptionList {
        let mut opts = OptionList::default();
        let first_is_bare = !s.starts_with(',');
        for (i, item) in Self::split_items(s).into_iter().enumerate() {
            match (item.split_once('='), implied) {
                (Some((k, v)), _) => opts.push(k, v),
                (None, Some(key)) if i == 0 && first_is_bare => opts.push(key, &item),
                (None, _) => match item.strip_prefix("no") {
                    Some(flag) => opts.push(flag, "off"),
                    None => opts.push(&item, "on"),
                },
            }
        }
        opts
    }

    /// The last value of a key (QEMU's `qemu_opt_get`: later settings win).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Appends a pair.
    pub fn push(&mut self, key: &str, value: &str) {
        self.items.push((key.to_owned(), value.to_owned()));
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for OptionList {
    /// The pairs in order, as [`OptionList::push`] would add them.
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(pairs: I) -> Self {
        let mut list = OptionList::default();
        for (key, value) in pairs {
            list.push(key, value);
        }
        list
    }
}

/// One drive from `-drive` or a shorthand option.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DriveConfig {
    /// The `-drive` options (`file`, `if`, `index`, `media`, `format`, `readonly`,
    /// `id`, `x-virtual`, `x-size`...), shorthands already expanded.
    pub opts: OptionList,
    /// What probing the image file found, when a file was named.
    pub probe: Option<ImageProbe>,
}

/// What a read-only probe of an image file found. Made at the edge, stored as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageProbe {
    /// The file could not be opened.
    Missing,
    /// The file opened and was recognised.
    Found(ImageInfo),
}

/// A disk image's visible properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Format driver name (`raw`, `qcow2`).
    pub format: String,
    /// Virtual size in bytes.
    pub size_bytes: u64,
    /// Backing file named in the header.
    pub backing_file: Option<String>,
    /// Whether the image is encrypted.
    pub encrypted: bool,
}

/// A character device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChardevConfig {
    /// The label (`-chardev id=`, or `compat_monitorN`, `serialN`, `parallelN`).
    pub label: String,
    /// The backend.
    pub backend: ChardevBackend,
}

/// Character device backends qmpsim knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChardevBackend {
    /// A unix stream socket.
    Unix {
        /// Socket path.
        path: String,
        /// Listen (`server`) rather than connect.
        server: bool,
        /// Wait for a first client before starting (`server` without `nowait`).
        wait: bool,
    },
    /// A TCP socket.
    Tcp {
        /// Host to bind or connect.
        host: String,
        /// Port.
        port: String,
        /// Listen rather than connect.
        server: bool,
        /// Wait for a first client before starting.
        wait: bool,
        /// Telnet framing.
        telnet: bool,
    },
    /// The process's stdin/stdout.
    Stdio,
    /// A graphical virtual console.
    Vc,
    /// Discards output.
    Null,
    /// A pseudo terminal.
    Pty,
    /// Another backend shown by its filename only (file:, pipe:, udp:...).
    Other(String),
}

impl ChardevBackend {
    /// The `filename` query-chardev and `info chardev` show.
    pub fn filename(&self) -> String {
        match self {
            ChardevBackend::Unix { path, server, .. } => {
                format!("unix:{path}{}", if *server { ",server" } else { "" })
            }
            ChardevBackend::Tcp {
                host,
                port,
                server,
                telnet,
                ..
            } => format!(
                "{}:{host}:{port}{}",
                if *telnet { "telnet" } else { "tcp" },
                if *server { ",server" } else { "" }
            ),
            ChardevBackend::Stdio => "stdio".to_owned(),
            ChardevBackend::Vc => "vc".to_owned(),
            ChardevBackend::Null => "null".to_owned(),
            ChardevBackend::Pty => "pty".to_owned(),
            ChardevBackend::Other(s) => s.clone(),
        }
    }
}

/// A monitor on a character device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// Label of the chardev it runs on (an entry of `MachineConfig::chardevs`).
    pub chardev: String,
    /// QMP (`control`) or HMP (`readline`).
    pub mode: MonitorMode,
    /// `pretty=on`.
    pub pretty: bool,
}

/// Monitor flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorMode {
    /// QMP.
    Control,
    /// The human monitor.
    Readline,
}
