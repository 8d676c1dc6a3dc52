//! The watchdog: which devices are watchdogs and what their expiry does
//! (`-watchdog-action`, HMP `watchdog_action`). Models 0.14's `hw/watchdog.c`;
//! the expiry itself is `Machine::watchdog_expire` in `machine::inject`.
//!
//! 0.14 keeps one global action for every watchdog device; so does this model.
//! Plain serde data, no I/O.

use serde::{Deserialize, Serialize};

use super::config::MachineConfig;

/// A watchdog device model, as `-watchdog MODEL` names it. The one list of them:
/// the command line, `-watchdog ?`, its error message and the machine all read
/// [`WatchdogModel::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogModel {
    /// The ISA iBASE 700.
    Ib700,
    /// The PCI Intel 6300ESB.
    I6300esb,
}

impl WatchdogModel {
    /// Every model 0.14 registers, in `-watchdog ?` order.
    pub const ALL: [WatchdogModel; 2] = [WatchdogModel::Ib700, WatchdogModel::I6300esb];

    /// The qdev driver name (also the `-watchdog` argument).
    pub fn driver(self) -> &'static str {
        match self {
            WatchdogModel::Ib700 => "ib700",
            WatchdogModel::I6300esb => "i6300esb",
        }
    }

    /// The description `-watchdog ?` prints.
    pub fn description(self) -> &'static str {
        match self {
            WatchdogModel::Ib700 => "iBASE 700",
            WatchdogModel::I6300esb => "Intel 6300ESB",
        }
    }

    /// `select_watchdog`: model names compare case-insensitively.
    pub fn parse(s: &str) -> Option<WatchdogModel> {
        Self::ALL
            .into_iter()
            .find(|m| m.driver().eq_ignore_ascii_case(s))
    }

    /// The model a qdev driver name is, if it is a watchdog.
    pub fn from_driver(driver: &str) -> Option<WatchdogModel> {
        Self::ALL.into_iter().find(|m| m.driver() == driver)
    }
}

/// What `-watchdog ?` prints: one `\tNAME\tDESCRIPTION` line per model.
pub fn watchdog_list() -> String {
    WatchdogModel::ALL
        .iter()
        .map(|m| format!("\t{}\t{}", m.driver(), m.description()))
        .collect::<Vec<_>>()
        .join("\n")
}
/// What the `debug` action prints on stderr.
pub const WATCHDOG_DEBUG_MESSAGE: &str = "watchdog: timer fired\n";

/// What an expired watchdog does (`WDT_*` in 0.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchdogAction {
    /// Hard reset, as `system_reset` (the default).
    Reset,
    /// ACPI power button, as `system_powerdown`.
    Shutdown,
    /// Exit at once (0.14 calls `exit(0)`: no SHUTDOWN event).
    Poweroff,
    /// Stop the VCPUs, as `stop`.
    Pause,
    /// Print a line on stderr and keep running.
    Debug,
    /// Nothing besides the event.
    None,
}

impl WatchdogAction {
    /// Every action, in `-watchdog-action` order.
    pub const ALL: [WatchdogAction; 6] = [
        WatchdogAction::Reset,
        WatchdogAction::Shutdown,
        WatchdogAction::Poweroff,
        WatchdogAction::Pause,
        WatchdogAction::Debug,
        WatchdogAction::None,
    ];

    /// `select_watchdog_action`: names compare case-insensitively.
    pub fn parse(s: &str) -> Option<WatchdogAction> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// The name WATCHDOG's `action` carries.
    pub fn name(self) -> &'static str {
        match self {
            WatchdogAction::Reset => "reset",
            WatchdogAction::Shutdown => "shutdown",
            WatchdogAction::Poweroff => "poweroff",
            WatchdogAction::Pause => "pause",
            WatchdogAction::Debug => "debug",
            WatchdogAction::None => "none",
        }
    }
}

/// The watchdog state the machine keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchdog {
    /// The current action.
    pub action: WatchdogAction,
}

impl Watchdog {
    /// The action `-watchdog-action` chose, `reset` by default.
    pub fn from_config(config: &MachineConfig) -> Watchdog {
        Watchdog {
            action: config.watchdog_action.unwrap_or(WatchdogAction::Reset),
        }
    }
}

/// Serde for the config's `Option<WatchdogModel>` and `Option<WatchdogAction>`: by
/// name, as the command line wrote them, so a trace header keeps the bytes it had
/// when these fields were strings.
pub(crate) mod by_name {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{WatchdogAction, WatchdogModel};

    /// A watchdog setting kept by its command-line name.
    pub trait Named: Copy + 'static {
        /// What it is, for the error on an unknown name.
        const WHAT: &'static str;
        /// Every value.
        const ALL: &'static [Self];
        /// Its name.
        fn name(self) -> &'static str;
    }

    impl Named for WatchdogModel {
        const WHAT: &'static str = "watchdog model";
        const ALL: &'static [Self] = &WatchdogModel::ALL;
        fn name(self) -> &'static str {
            self.driver()
        }
    }

    impl Named for WatchdogAction {
        const WHAT: &'static str = "watchdog action";
        const ALL: &'static [Self] = &WatchdogAction::ALL;
        fn name(self) -> &'static str {
            WatchdogAction::name(self)
        }
    }

    /// Writes the name.
    pub fn serialize<T: Named, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.map(T::name).serialize(s)
    }

    /// Reads a name (in any case, as the command line takes it); an unknown
    /// one is an error.
    pub fn deserialize<'de, T: Named, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|n| {
                T::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name().eq_ignore_ascii_case(&n))
                    .ok_or_else(|| D::Error::custom(format!("unknown {} '{n}'", T::WHAT)))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ignores_case_like_strcasecmp() {
        assert_eq!(WatchdogAction::parse("PAUSE"), Some(WatchdogAction::Pause));
    }

    #[test]
    fn parse_unknown_is_none() {
        assert_eq!(WatchdogAction::parse("explode"), None);
    }

    #[test]
    fn name_roundtrips_through_parse_for_every_action() {
        let names = ["reset", "shutdown", "poweroff", "pause", "debug", "none"];
        let back: Vec<&str> = names
            .iter()
            .filter_map(|n| WatchdogAction::parse(n))
            .map(WatchdogAction::name)
            .collect();
        assert_eq!(back, names);
    }

    #[test]
    fn from_config_without_action_is_reset() {
        let w = Watchdog::from_config(&MachineConfig::default());
        assert_eq!(w.action, WatchdogAction::Reset);
    }

    #[test]
    fn from_config_takes_watchdog_action() {
        let w = Watchdog::from_config(&MachineConfig {
            watchdog_action: Some(WatchdogAction::Poweroff),
            ..MachineConfig::default()
        });
        assert_eq!(w.action, WatchdogAction::Poweroff);
    }

    #[test]
    fn model_parse_ignores_case() {
        assert_eq!(WatchdogModel::parse("IB700"), Some(WatchdogModel::Ib700));
    }

    #[test]
    fn watchdog_list_is_0_14_text() {
        assert_eq!(
            watchdog_list(),
            "\tib700\tiBASE 700\n\ti6300esb\tIntel 6300ESB"
        );
    }

    #[test]
    fn config_watchdog_fields_encode_as_their_names() {
        let typed = MachineConfig {
            watchdog: Some(WatchdogModel::I6300esb),
            watchdog_action: Some(WatchdogAction::Pause),
            ..MachineConfig::default()
        };
        let json = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            (&json["watchdog"], &json["watchdog_action"]),
            (&serde_json::json!("i6300esb"), &serde_json::json!("pause"))
        );
    }

    #[test]
    fn config_with_unknown_watchdog_model_does_not_decode() {
        let mut json = serde_json::to_value(MachineConfig::default()).unwrap();
        json["watchdog"] = serde_json::json!("i8080");
        let err = serde_json::from_value::<MachineConfig>(json).unwrap_err();
        assert_eq!(err.to_string(), "unknown watchdog model 'i8080'");
    }
}
