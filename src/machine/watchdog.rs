//! The watchdog: which devices are watchdogs and what their expiry does
//! (`-watchdog-action`, HMP `watchdog_action`). Models 0.14's `hw/watchdog.c`;
//! the expiry itself is `Machine::watchdog_expire` in `machine::inject`.
//!
//! 0.14 keeps one global action for every watchdog device; so does this model.
//! Plain serde data, no I/O.

use serde::{Deserialize, Serialize};

use super::config::MachineConfig;

/// Drivers 0.14 registers as watchdog models (`-watchdog ?` order).
pub const WATCHDOG_DRIVERS: &[&str] = &["ib700", "i6300esb"];
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
    /// `select_watchdog_action`: names compare case-insensitively.
    pub fn parse(s: &str) -> Option<WatchdogAction> {
        [
            WatchdogAction::Reset,
            WatchdogAction::Shutdown,
            WatchdogAction::Poweroff,
            WatchdogAction::Pause,
            WatchdogAction::Debug,
            WatchdogAction::None,
        ]
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
    /// The action `-watchdog-action` chose (the CLI rejects unknown names; a
    /// hand-made config with one gets the default, `reset`).
    pub fn from_config(config: &MachineConfig) -> Watchdog {
        Watchdog {
            action: config
                .watchdog_action
                .as_deref()
                .and_then(WatchdogAction::parse)
                .unwrap_or(WatchdogAction::Reset),
        }
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
            watchdog_action: Some("poweroff".into()),
            ..MachineConfig::default()
        });
        assert_eq!(w.action, WatchdogAction::Poweroff);
    }
}
