//! Emulated hardware 0.14 picks by name at startup, and the Linux boot options:
//! `-vga` (`select_vgahw` of vl.c), `-soundhw` (`select_soundhw` of
//! arch_init.c), `-clock` (`configure_alarms` of qemu-timer.c), `-usbdevice`
//! (`usb_parse` of vl.c), and `-kernel`, `-append`, `-initrd` (checked
//! together in vl.c's `main`). The names are checked as 0.14 checks them;
//! the VGA type, the sound cards and the USB devices change the machine.

use super::{OptCtx, RawError, SpecialMode};
use crate::machine::config::VgaType;

/// `-vga` types of 0.14 in `select_vgahw`'s order, each matched as a prefix
/// of the value (`strstart`).
const VGA_TYPES: &[(&str, VgaType)] = &[
    ("std", VgaType::Std),
    ("cirrus", VgaType::Cirrus),
    ("vmware", VgaType::Vmware),
    ("xenfb", VgaType::Xenfb),
    ("qxl", VgaType::Qxl),
    ("none", VgaType::None),
];
/// `-vga ...,retrace=` methods.
const VGA_RETRACE_METHODS: &[&str] = &["dumb", "precise"];

/// The sound cards of a default 0.14 x86_64 build (`soundhw[]` of arch_init.c
/// with configure's `audio_card_list="ac97 es1370 sb16 hda"` and the PC
/// speaker): name and description, in table order.
pub const SOUND_CARDS: &[(&str, &str)] = &[
    ("pcspk", "PC speaker"),
    ("sb16", "Creative Sound Blaster 16"),
    ("ac97", "Intel 82801AA AC97 Audio"),
    ("es1370", "ENSONIQ AudioPCI ES1370"),
    ("hda", "Intel HD Audio"),
];
/// Longest unknown card name 0.14 quotes (`Unknown sound card name (too big to
/// show)` past it).
pub const SOUND_CARD_NAME_SHOWN_BYTES_MAX: usize = 80;

/// The alarm timers of 0.14 on Linux (`alarm_timers[]` of qemu-timer.c), in
/// their default order of precedence.
pub const ALARM_TIMERS: [&str; 4] = ["dynticks", "hpet", "rtc", "unix"];

/// `select_vgahw`: a type, then any number of `,retrace=dumb|precise`.
pub fn check_vga(value: &str) -> Result<VgaType, RawError> {
    let bad = || RawError::VgaType(value.to_owned());
    let (vga, mut opts) = VGA_TYPES
        .iter()
        .find_map(|(name, vga)| value.strip_prefix(name).map(|rest| (*vga, rest)))
        .ok_or_else(bad)?;
    while !opts.is_empty() {
        let method = opts.strip_prefix(",retrace=").ok_or_else(bad)?;
        opts = VGA_RETRACE_METHODS
            .iter()
            .find_map(|m| method.strip_prefix(m))
            .ok_or_else(bad)?;
    }
    Ok(vga)
}

/// `-vga TYPE[,retrace=METHOD]`: the last one given chooses the card.
pub(super) fn apply_vga(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.vga = Some(check_vga(&v)?);
    Ok(())
}

/// `select_soundhw`: `?` (any value starting with it) lists the cards, `all`
/// or a comma list of known names is taken; otherwise the unknown names, for
/// the list to follow them.
pub fn select_soundhw(value: &str) -> Option<SpecialMode> {
    if value.starts_with('?') {
        return Some(SpecialMode::SoundCards {
            unknown: Vec::new(),
        });
    }
    if value == "all" {
        return None;
    }
    let mut unknown = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (name, after) = rest.split_once(',').unwrap_or((rest, ""));
        if !SOUND_CARDS.iter().any(|(card, _)| *card == name) {
            unknown.push(name.to_owned());
        }
        rest = after;
    }
    (!unknown.is_empty()).then_some(SpecialMode::SoundCards { unknown })
}

/// `-soundhw CARDS`.
/// The cards enabled so far and those `value` names (`all`: every one), in
/// `soundhw[]` order, which `audio_init` creates them in.
fn enable_sound_cards(enabled: &[String], value: &str) -> Vec<String> {
    SOUND_CARDS
        .iter()
        .map(|(card, _)| *card)
        .filter(|card| {
            value == "all"
                || value.split(',').any(|n| n == *card)
                || enabled.iter().any(|e| e == card)
        })
        .map(str::to_owned)
        .collect()
}

pub(super) fn apply_soundhw(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.special = select_soundhw(&v);
    if ctx.low.special.is_none() {
        let config = &mut ctx.low.config;
        config.sound_cards = enable_sound_cards(&config.sound_cards, &v);
    }
    Ok(())
}

/// What `-soundhw` prints: a line on stderr per unknown name, and the list
/// on stdout.
pub fn sound_cards_text(unknown: &[String]) -> (String, String) {
    let stderr = unknown
        .iter()
        .map(|name| {
            if name.len() > SOUND_CARD_NAME_SHOWN_BYTES_MAX {
                "Unknown sound card name (too big to show)\n".to_owned()
            } else {
                format!("Unknown sound card name `{name}'\n")
            }
        })
        .collect();
    let mut stdout = String::from("Valid sound card names (comma separated):\n");
    for (name, description) in SOUND_CARDS {
        stdout.push_str(&format!("{name:<11} {description}\n"));
    }
    stdout.push_str("\n-soundhw all will enable all of the above\n");
    (stdout, stderr)
}

/// 0.14's `alarm_timers[]` as `-clock` options reorder it: `None` is a timer
/// slot `configure_alarms` disabled (its name set to NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTimers(pub [Option<&'static str>; ALARM_TIMERS.len()]);

impl Default for AlarmTimers {
    fn default() -> Self {
        AlarmTimers(ALARM_TIMERS.map(Some))
    }
}

impl AlarmTimers {
    /// The timers in order of precedence (up to the first disabled slot, as
    /// 0.14's loops stop there).
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map_while(|t| *t).collect()
    }

    /// `configure_alarms`, a port: the named timers move to the front in the
    /// order given and the rest are disabled. An unknown name is reported and
    /// skipped (`Err` of the list when no name was taken); `?` lists them.
    /// Returns the names reported as unknown.
    pub fn configure(&mut self, opt: &str) -> Result<Vec<String>, SpecialMode> {
        if opt == "?" {
            return Err(SpecialMode::AlarmTimers {
                unknown: Vec::new(),
                timers: self.names(),
                asked: true,
            });
        }
        let count = self.0.len();
        let mut cur = 0;
        let mut unknown = Vec::new();
        // strtok: empty names between commas are skipped.
        for name in opt.split(',').filter(|n| !n.is_empty()) {
            let mut i = 0;
            while i < count {
                match self.0[i] {
                    Some(timer) if timer == name => break,
                    Some(_) => i += 1,
                    None => break,
                }
            }
            if i == count {
                unknown.push(name.to_owned());
                continue;
            }
            if i < cur {
                continue;
            }
            self.0.swap(i, cur);
            cur += 1;
        }
        if cur == 0 {
            return Err(SpecialMode::AlarmTimers {
                unknown,
                timers: self.names(),
                asked: false,
            });
        }
        for slot in &mut self.0[cur..] {
            *slot = None;
        }
        Ok(unknown)
    }

    /// `init_timer_alarm`: the first timer starts (one the host lacks, as
    /// `hpet` without `/dev/hpet`, is taken to start); none left is an error.
    pub fn check(&self) -> Result<(), RawError> {
        if self.names().is_empty() {
            return Err(RawError::AlarmTimer);
        }
        Ok(())
    }
}

/// `-clock METHOD[,METHOD...]`.
pub(super) fn apply_clock(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let low = &mut *ctx.low;
    match low.alarm_timers.configure(&v) {
        Ok(unknown) => low
            .warnings
            .extend(unknown.iter().map(|name| format!("Unknown clock {name}"))),
        Err(list) => low.special = Some(list),
    }
    Ok(())
}

/// What `-clock` prints when it stops: a line on stderr per unknown name,
/// and the timers on stdout.
pub fn alarm_timers_text(unknown: &[String], timers: &[&str]) -> (String, String) {
    let stderr = unknown
        .iter()
        .map(|name| format!("Unknown clock {name}\n"))
        .collect();
    let mut stdout = String::from("Available alarm timers, in order of precedence:\n");
    for timer in timers {
        stdout.push_str(timer);
        stdout.push('\n');
    }
    (stdout, stderr)
}

/// `-usbdevice NAME`: USB on, and the device made after the machine
/// (`usb_parse`); a name 0.14 makes nothing of is refused.
pub(super) fn apply_usbdevice(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    use crate::machine::devices::usb::{parse_devname, UsbDevName};
    match parse_devname(&v) {
        UsbDevName::NoParams(driver) => return Err(RawError::UsbDeviceParams { driver, name: v }),
        UsbDevName::Unknown => return Err(RawError::UsbDevice(v)),
        UsbDevName::Driver(_) | UsbDevName::Unmodelled => {}
    }
    let config = &mut ctx.low.config;
    config.usb = true;
    config.usb_devices.push(v);
    Ok(())
}

/// Which Linux boot options were given (`linux_boot = kernel_filename != NULL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinuxBoot {
    /// `-kernel`.
    pub kernel: bool,
    /// The last `-append` was not empty.
    pub append: bool,
    /// `-initrd`.
    pub initrd: bool,
}

impl LinuxBoot {
    /// 0.14's checks after the options are read: `-append` and `-initrd` need
    /// `-kernel`.
    pub fn check(&self) -> Result<(), RawError> {
        if !self.kernel && self.append {
            return Err(RawError::AppendWithoutKernel);
        }
        if !self.kernel && self.initrd {
            return Err(RawError::InitrdWithoutKernel);
        }
        Ok(())
    }
}

/// `-kernel FILE`.
pub(super) fn apply_kernel(ctx: &mut OptCtx<'_>, _v: String) -> Result<(), RawError> {
    ctx.low.linux_boot.kernel = true;
    Ok(())
}

/// `-append CMDLINE` (an empty one is no command line).
pub(super) fn apply_append(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.linux_boot.append = !v.is_empty();
    Ok(())
}

/// `-initrd FILE`.
pub(super) fn apply_initrd(ctx: &mut OptCtx<'_>, _v: String) -> Result<(), RawError> {
    ctx.low.linux_boot.initrd = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_ok};
    use super::*;

    #[test]
    fn vga_types_match_as_prefixes_with_retrace_options() {
        let ok = [
            "std",
            "none",
            "qxl,retrace=dumb",
            "vmware,retrace=precise,retrace=dumb",
        ];
        let bad = [
            "",
            "nonex",
            "std,",
            "std,retrace=",
            "cirrus,retrace=dumbx",
            "vga",
        ];
        assert_eq!(
            (
                ok.map(|v| check_vga(v).is_ok()),
                bad.map(|v| check_vga(v).is_err())
            ),
            ([true; 4], [true; 6])
        );
    }

    #[test]
    fn last_vga_type_chooses_the_card() {
        assert_eq!(parse_ok(&[]).config.vga, None);
        assert_eq!(
            parse_ok(&["-vga", "std,retrace=dumb"]).config.vga,
            Some(VgaType::Std)
        );
        assert_eq!(
            parse_ok(&["-vga", "vmware", "-vga", "none"]).config.vga,
            Some(VgaType::None)
        );
        // A prefix match, in select_vgahw's order.
        assert_eq!(check_vga("cirrus").ok(), Some(VgaType::Cirrus));
        assert_eq!(check_vga("xenfb").ok(), Some(VgaType::Xenfb));
    }

    #[test]
    fn no_hpet_is_taken_and_std_vga_is_not_an_014_option() {
        assert!(parse_ok(&["-no-hpet"]).config.no_hpet);
        assert!(!parse_ok(&[]).config.no_hpet);
        assert_refused(&[(
            "-std-vga left QEMU before 0.14",
            &["-std-vga"],
            "qemu-system-x86_64: -std-vga: invalid option",
        )]);
    }

    #[test]
    fn soundhw_cards_accumulate_in_table_order() {
        assert_eq!(
            parse_ok(&["-soundhw", "hda,sb16", "-soundhw", "ac97"])
                .config
                .sound_cards,
            ["sb16", "ac97", "hda"]
        );
        assert_eq!(
            parse_ok(&["-soundhw", "all"]).config.sound_cards,
            ["pcspk", "sb16", "ac97", "es1370", "hda"]
        );
        assert!(parse_ok(&[]).config.sound_cards.is_empty());
    }

    #[test]
    fn soundhw_all_and_known_cards_are_taken() {
        assert_eq!(
            [select_soundhw("all"), select_soundhw("sb16,hda,")],
            [None, None]
        );
    }

    #[test]
    fn soundhw_question_mark_prefix_lists() {
        assert_eq!(
            parse_ok(&["-soundhw", "?x"]).special,
            Some(SpecialMode::SoundCards { unknown: vec![] })
        );
    }

    #[test]
    fn soundhw_empty_name_between_commas_is_unknown() {
        assert_eq!(
            select_soundhw("sb16,,hda"),
            Some(SpecialMode::SoundCards {
                unknown: vec![String::new()]
            })
        );
    }

    #[test]
    fn sound_card_name_of_eighty_bytes_is_still_quoted() {
        let name = "x".repeat(SOUND_CARD_NAME_SHOWN_BYTES_MAX);
        let (_, stderr) = sound_cards_text(std::slice::from_ref(&name));
        assert_eq!(stderr, format!("Unknown sound card name `{name}'\n"));
    }

    #[test]
    fn sound_card_name_past_eighty_bytes_is_too_big() {
        let name = "x".repeat(SOUND_CARD_NAME_SHOWN_BYTES_MAX + 1);
        let (_, stderr) = sound_cards_text(&[name]);
        assert_eq!(stderr, "Unknown sound card name (too big to show)\n");
    }

    #[test]
    fn clock_moves_named_timers_first_and_disables_the_rest() {
        let mut timers = AlarmTimers::default();
        assert_eq!(
            timers.configure("rtc,,bogus,dynticks,rtc"),
            Ok(vec!["bogus".to_owned()])
        );
        assert_eq!(timers.names(), ["rtc", "dynticks"]);
    }

    #[test]
    fn clock_naming_nothing_known_lists_and_fails() {
        assert_eq!(
            parse_ok(&["-clock", ","]).special.map(|m| m.exit_status()),
            Some(1)
        );
    }

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "second clock option can leave no timer",
                &["-clock", "unix", "-clock", "hpet"],
                "could not initialize alarm timer",
            ),
            (
                "initrd without kernel is refused even empty",
                &["-initrd", ""],
                "-initrd only allowed with -kernel option",
            ),
        ]);
    }

    #[test]
    fn second_clock_option_naming_the_first_keeps_it() {
        assert_eq!(
            parse_ok(&["-clock", "unix", "-clock", "unix"])
                .alarm_timers
                .names(),
            ["unix"]
        );
    }

    #[test]
    fn unknown_clock_beside_a_known_one_warns() {
        assert_eq!(
            parse_ok(&["-clock", "hpet,bogus"]).warnings,
            ["Unknown clock bogus"]
        );
    }

    #[test]
    fn empty_append_needs_no_kernel() {
        assert!(parse_ok(&["-append", "x", "-append", ""]).special.is_none());
    }

    #[test]
    fn append_and_initrd_with_kernel_are_taken() {
        let low = parse_ok(&["-append", "a", "-initrd", "i", "-kernel", "k"]);
        assert!(low.linux_boot.kernel && low.linux_boot.append && low.linux_boot.initrd);
    }
}
