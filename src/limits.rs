//! Every limit, in one index. Each is a named constant defined beside the code it
//! bounds and re-exported here; its unit is the last word of its name (`_BYTES`,
//! `_MS`, `_NS`, `_S`, `_MB`, `_DIGITS`, a count otherwise). A tidy test
//! (`tests/it/tidy.rs`) checks that every `pub const *_MAX` of the crate is listed
//! here and that each one's name appears in at least one test, its edge test.
//!
//! | limit | value | what it bounds |
//! | --- | --- | --- |
//! | **wire** | | |
//! | [`MESSAGE_BYTES_MAX`] | 1 MiB | bytes of one QMP message, counted over its tokens |
//! | [`NESTING_DEPTH_MAX`] | 1024 levels | `{`/`[` nesting in one message |
//! | **engine and sessions** | | |
//! | [`CLIENTS_MAX`] | 64 clients | monitor clients connected at once |
//! | [`NAMED_FDS_MAX`] | 256 descriptors | named descriptors one monitor holds (`getfd`) |
//! | [`CLOCK_STEP_NS_MAX`] | 1 h, in ns | one `x-clock-step` |
//! | [`MEMSAVE_BYTES_MAX`] | 16 MiB | one `memsave`/`pmemsave` dump |
//! | **HMP** | | |
//! | [`COMMAND_NAME_BYTES_MAX`] | 255 bytes | a command name (`char cmdname[256]`) |
//! | [`SENDKEY_KEYS_MAX`] | 16 keys | keys one `sendkey` presses (0.14's `MAX_KEYCODES`) |
//! | [`SUM_RAM_BYTES_MAX`] | 16 MiB | guest RAM one `sum` reads |
//! | [`ACL_ENTRIES_MAX`] | 256 rules | rules of one access control list (`acl_add`) |
//! | [`STRING_ARG_BYTES_MAX`] | 1023 bytes | a string argument (`char buf[1024]`) |
//! | [`OPTION_NAME_BYTES_MAX`] | 127 bytes | a QemuOpts option name (`char option[128]`) |
//! | [`REGISTER_NAME_BYTES_MAX`] | 127 bytes | a `$register` name (`char buf[128]`) |
//! | [`EXPR_DEPTH_MAX`] | 256 levels | nesting of an HMP expression |
//! | [`CMD_BUF_BYTES_MAX`] | 4095 bytes | a human monitor's command line (`READLINE_CMD_BUF_SIZE`) |
//! | [`HISTORY_ENTRIES_MAX`] | 64 lines | a human monitor's history (`READLINE_MAX_CMDS`) |
//! | **machine** | | |
//! | [`EVENTS_QUEUED_MAX`] | 1024 QMP events | QMP events one engine step may queue (more are counted as dropped) |
//! | [`TIMERS_MAX`] | 4096 timers | timers pending at once |
//! | [`SMP_CPUS_MAX`] | 255 CPUs | `-smp` and `maxcpus` |
//! | [`GUEST_SHUTDOWN_MS_MAX`] | 1 h, in ms | `-x-guest shutdown-ms=` |
//! | [`DEVICES_MAX`] | 1024 devices | qdev devices at once, built-in ones included |
//! | [`VIRTIO_SERIAL_PORTS_MAX`] | 31 ports | ports of one virtio-serial device |
//! | [`NET_CLIENTS_MAX`] | 256 clients | network backends and NICs at once |
//! | [`SERIAL_PORTS_MAX`] | 4 ports | `-serial` ports |
//! | [`PARALLEL_PORTS_MAX`] | 3 ports | `-parallel` ports |
//! | [`IMAGE_PROBES_MAX`] | 1024 probes | image probes kept for `change` |
//! | [`VIRTUAL_IMAGE_BYTES_MAX`] | 4 EiB | `x-size` of a virtual image |
//! | [`RTC_OFFSET_S_MAX`] | 2^31 - 1 s | RTC offset reported by `RTC_CHANGE` |
//! | [`VNC_CHANGE_PASSWORD_BYTES_MAX`] | 8 bytes | a password `change vnc password` keeps |
//! | [`INET_HOST_BYTES_MAX`] | 64 bytes | host part of a `-vnc`/`change vnc` address |
//! | [`INET_PORT_BYTES_MAX`] | 32 bytes | port part of a `-vnc`/`change vnc` address |
//! | [`VNC_CLIENTS_MAX`] | 64 clients | VNC clients at once |
//! | [`SPICE_CHANNELS_MAX`] | 64 channels | SPICE channel connections at once |
//! | [`SPICE_CONNECTION_ID_RANDOM_MAX`] | 2^31 - 1 | largest SPICE connection id drawn (`RAND_MAX`) |
//! | [`HOT_DRIVES_MAX`] | 256 drives | drives at once, `drive_add` and `pci_add` included |
//! | [`ND_TABLE_NICS_MAX`] | 8 NICs | `-net nic` and `pci_add nic` cards (0.14's `MAX_NICS`) |
//! | [`SNAPSHOTS_PER_DRIVE_MAX`] | 64 snapshots | internal snapshots one drive holds (`savevm`) |
//! | [`SNAPSHOT_TAG_BYTES_MAX`] | 255 bytes | a snapshot tag |
//! | [`SIDECAR_BYTES_MAX`] | 256 MiB | a snapshot sidecar file's body |
//! | **faults and scenarios** | | |
//! | [`SLOW_FACTOR_MAX`] | 1000 times | slow-down of `balloon-slow` and `migration-slow` |
//! | [`MONITOR_DROPS_MAX`] | 64 drops | `drop-monitor` faults pending at once |
//! | [`SCENARIO_STEPS_MAX`] | 1024 steps | steps of one `-x-scenario` file |
//! | [`SCENARIO_FILE_BYTES_MAX`] | 1 MiB | an `-x-scenario` file |
//! | [`CHAOS_PIECES_MAX`] | 4 pieces | writes `-x-chaos` splits one message into |
//! | [`CHAOS_DELAY_NS_MAX`] | 50,000,000 ns (50 ms) | virtual delay `-x-chaos` gives one message or piece |
//! | [`CHAOS_SLOW_FACTOR_MAX`] | 20 times | slow-down `-x-chaos` gives a migration or the balloon |
//! | **command line** | | |
//! | [`RAM_MB_MAX`] | 4 TiB, in MiB | `-m` |
//! | [`TCP_HOST_BYTES_MAX`] | 64 bytes | host part of a `tcp:HOST:PORT` chardev spec |
//! | [`TCP_PORT_BYTES_MAX`] | 32 bytes | port part of a `tcp:HOST:PORT` chardev spec |
//! | [`VC_SIZE_DIGITS_MAX`] | 8 digits | width of a `vc:WxH` spec |
//! | [`BOOT_SPEC_BYTES_MAX`] | 32 bytes | a `-boot` key or device list (longer ones are cut) |
//! | [`SOUND_CARD_NAME_SHOWN_BYTES_MAX`] | 80 bytes | an unknown `-soundhw` name quoted (longer ones are "too big to show") |
//! | [`HOSTFWD_FIELD_BYTES_MAX`] | 255 bytes | a field of a host forwarding rule (longer ones are cut) |
//! | [`NIC_VECTORS_MAX`] | 134217727 vectors | `-net nic,vectors=` |
//! | [`BACKING_FILE_BYTES_MAX`] | 1023 bytes | backing file name read from a qcow2 header |
//! | **snapshots and traces** | | |
//! | [`SNAPSHOT_BYTES_MAX`] | 64 MiB | a snapshot body |
//! | [`HEADER_BYTES_MAX`] | 1 MiB | an encoded trace header |
//! | [`FRAME_BYTES_MAX`] | 16 MiB | an encoded trace frame body |
//! | [`FIELD_BYTES_MAX`] | 4 bytes | a trace frame's varint length field |
//! | [`DECODE_CLAIM_BYTES_MAX`] | 1 GiB | what decoding one trace, snapshot or stream body may claim for its strings and vectors |
//! | [`CANDIDATES_MAX`] | 100,000 candidates | traces tried by one `trace minimize` |
//! | [`PROGRESS_LINES_MAX`] | 10 lines | plain progress lines of one `qmpsim replay` run |
//! | [`TRANSCRIPT_BYTES_MAX`] | 64 MiB | a transcript `trace import` reads |
//! | **migration stream** | | |
//! | [`PREAMBLE_BYTES_MAX`] | 64 KiB | the encoded preamble of a migration stream |
//! | [`SNAPSHOT_ENVELOPE_BYTES_MAX`] | 64 MiB plus the envelope's prefix and hash | the snapshot envelope a stream carries |
//! | **server (the edge)** | | |
//! | [`READ_BYTES_MAX`] | 4096 bytes | one read from a client (`READ_BUF_LEN`) |
//! | [`OUTPUT_QUEUE_BYTES_MAX`] | 4 MiB | bytes held for one client at which its requests stop being read (backpressure) |
//! | [`OUTPUT_QUEUE_OVERFLOW_BYTES_MAX`] | 8 MiB | bytes held for one client at all; a client that reads nothing while events pile up past it is dropped |
//! | [`BATCH_EVENTS_MAX`] | 64 reads | client reads stepped in one turn of the event loop before the trace is committed |
//! | [`LOOP_EVENTS_QUEUED_MAX`] | 1024 events | events from helper, migration, stdio and embedding threads waiting for the event loop (senders block past it) |
//! | [`FDS_PER_READ_MAX`] | 16 descriptors | descriptors one `recvmsg` takes |
//! | [`FDS_HELD_MAX`] | 1024 descriptors | descriptors held at once |
//! | [`MIGRATION_BACKLOG_BYTES_MAX`] | 16 MiB | unwritten migration bytes before the model stalls |
//! | [`INCOMING_TURN_BYTES_MAX`] | 1 MiB | `-incoming` stream bytes read for one readiness of its channel |
//! | [`EXIT_FLUSH_MS_MAX`] | 2000 ms | wait for clients to take their last bytes at exit |
//! | [`FLEET_VMS_MAX`] | 100,000 VMs | VMs one `qmpsim fleet` runs (the open-file limit may allow fewer) |
//! | **explore and conformance** | | |
//! | [`EXPLORE_TIMEOUT_S_MAX`] | 1 day, in s | `--timeout` of one client run |
//! | [`RELAY_MESSAGE_BYTES_MAX`] | 16 MiB | a server message the conformance relay holds |
//! | **proxy and serve** | | |
//! | [`PROXY_CLIENTS_MAX`] | 64 clients | clients connected through `qmpsim proxy` at once |
//! | [`RELAY_READ_BYTES_MAX`] | 64 KiB | one read of the proxy from a client or server |
//! | [`UNUSED_LISTED_MAX`] | 10 requests | unused recorded requests `qmpsim serve` lists one by one |
//! | **embedding** | | |
//! | [`TEMP_DIR_ATTEMPTS_MAX`] | 64 names | temporary folder names an embedded VM tries |

pub use crate::wire::framing::{MESSAGE_BYTES_MAX, NESTING_DEPTH_MAX};

pub use crate::engine::CLIENTS_MAX;
pub use crate::qmp::commands::clock::CLOCK_STEP_NS_MAX;
pub use crate::qmp::commands::fds::NAMED_FDS_MAX;
pub use crate::qmp::commands::memory::MEMSAVE_BYTES_MAX;

pub use crate::qmp::hmp::{
    COMMAND_NAME_BYTES_MAX, EXPR_DEPTH_MAX, OPTION_NAME_BYTES_MAX, REGISTER_NAME_BYTES_MAX,
    SENDKEY_KEYS_MAX, STRING_ARG_BYTES_MAX, SUM_RAM_BYTES_MAX,
};

pub use crate::monitor::readline::{CMD_BUF_BYTES_MAX, HISTORY_ENTRIES_MAX};

pub use crate::machine::chaos::{CHAOS_DELAY_NS_MAX, CHAOS_PIECES_MAX, CHAOS_SLOW_FACTOR_MAX};
pub use crate::machine::clock::TIMERS_MAX;
pub use crate::machine::config::{GUEST_SHUTDOWN_MS_MAX, SMP_CPUS_MAX};
pub use crate::machine::devices::add::{DEVICES_MAX, VIRTIO_SERIAL_PORTS_MAX};
pub use crate::machine::devices::block::HOT_DRIVES_MAX;
pub use crate::machine::devices::block::{IMAGE_PROBES_MAX, VIRTUAL_IMAGE_BYTES_MAX};
pub use crate::machine::devices::chardev::{PARALLEL_PORTS_MAX, SERIAL_PORTS_MAX};
pub use crate::machine::devices::net::ND_TABLE_NICS_MAX;
pub use crate::machine::devices::net::NET_CLIENTS_MAX;
pub use crate::machine::display::acl::ACL_ENTRIES_MAX;
pub use crate::machine::display::{
    INET_HOST_BYTES_MAX, INET_PORT_BYTES_MAX, SPICE_CHANNELS_MAX, VNC_CHANGE_PASSWORD_BYTES_MAX,
    VNC_CLIENTS_MAX,
};
pub use crate::machine::events::EVENTS_QUEUED_MAX;
pub use crate::machine::faults::{MONITOR_DROPS_MAX, SLOW_FACTOR_MAX};
pub use crate::machine::inject::SPICE_CONNECTION_ID_RANDOM_MAX;
pub use crate::machine::rtc::RTC_OFFSET_S_MAX;
pub use crate::machine::scenario_steps::{SCENARIO_FILE_BYTES_MAX, SCENARIO_STEPS_MAX};
pub use crate::machine::snapshots::{
    SIDECAR_BYTES_MAX, SNAPSHOTS_PER_DRIVE_MAX, SNAPSHOT_TAG_BYTES_MAX,
};

pub use crate::cli::config::BACKING_FILE_BYTES_MAX;
pub use crate::cli::raw::boot::BOOT_SPEC_BYTES_MAX;
pub use crate::cli::raw::hardware::SOUND_CARD_NAME_SHOWN_BYTES_MAX;
pub use crate::cli::raw::net::NIC_VECTORS_MAX;
pub use crate::cli::raw::{RAM_MB_MAX, TCP_HOST_BYTES_MAX, TCP_PORT_BYTES_MAX, VC_SIZE_DIGITS_MAX};
pub use crate::machine::devices::slirp::HOSTFWD_FIELD_BYTES_MAX;

pub use crate::replay::corpus::PROGRESS_LINES_MAX;
pub use crate::snapshot::SNAPSHOT_BYTES_MAX;
pub use crate::trace::format::{
    DECODE_CLAIM_BYTES_MAX, FIELD_BYTES_MAX, FRAME_BYTES_MAX, HEADER_BYTES_MAX,
};
pub use crate::trace::import::TRANSCRIPT_BYTES_MAX;
pub use crate::trace::minimize::CANDIDATES_MAX;

pub use crate::migration_stream::{PREAMBLE_BYTES_MAX, SNAPSHOT_ENVELOPE_BYTES_MAX};

pub use crate::server::conn::READ_BYTES_MAX;
pub use crate::server::fds::{FDS_HELD_MAX, FDS_PER_READ_MAX};
pub use crate::server::incoming::INCOMING_TURN_BYTES_MAX;
pub use crate::server::migrate::MIGRATION_BACKLOG_BYTES_MAX;
pub use crate::server::queue::{OUTPUT_QUEUE_BYTES_MAX, OUTPUT_QUEUE_OVERFLOW_BYTES_MAX};
pub use crate::server::{BATCH_EVENTS_MAX, EXIT_FLUSH_MS_MAX, LOOP_EVENTS_QUEUED_MAX};

pub use crate::cli::fleet::FLEET_VMS_MAX;

pub use crate::proxy::relay::{PROXY_CLIENTS_MAX, RELAY_READ_BYTES_MAX};
pub use crate::proxy::serve::UNUSED_LISTED_MAX;

pub use crate::cli::commands::EXPLORE_TIMEOUT_S_MAX;
pub use crate::embed::TEMP_DIR_ATTEMPTS_MAX;
pub use crate::explore::relay::RELAY_MESSAGE_BYTES_MAX;

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, value)` of each limit named, in order.
    macro_rules! named {
        ($($name:ident)*) => { vec![$((stringify!($name), $name as u128)),*] };
    }

    /// Every limit of the table above with its value, in the table's order, a
    /// line per group of the table (a limit added to the table is added here
    /// too). The explore timeout is a whole number of seconds.
    #[allow(clippy::cast_possible_truncation)]
    fn values() -> Vec<(&'static str, u128)> {
        named! {
            MESSAGE_BYTES_MAX NESTING_DEPTH_MAX
            CLIENTS_MAX NAMED_FDS_MAX CLOCK_STEP_NS_MAX MEMSAVE_BYTES_MAX
            COMMAND_NAME_BYTES_MAX SENDKEY_KEYS_MAX SUM_RAM_BYTES_MAX ACL_ENTRIES_MAX STRING_ARG_BYTES_MAX OPTION_NAME_BYTES_MAX REGISTER_NAME_BYTES_MAX EXPR_DEPTH_MAX CMD_BUF_BYTES_MAX HISTORY_ENTRIES_MAX
            EVENTS_QUEUED_MAX TIMERS_MAX SMP_CPUS_MAX GUEST_SHUTDOWN_MS_MAX DEVICES_MAX VIRTIO_SERIAL_PORTS_MAX NET_CLIENTS_MAX SERIAL_PORTS_MAX PARALLEL_PORTS_MAX IMAGE_PROBES_MAX VIRTUAL_IMAGE_BYTES_MAX RTC_OFFSET_S_MAX VNC_CHANGE_PASSWORD_BYTES_MAX INET_HOST_BYTES_MAX INET_PORT_BYTES_MAX VNC_CLIENTS_MAX SPICE_CHANNELS_MAX SPICE_CONNECTION_ID_RANDOM_MAX HOT_DRIVES_MAX ND_TABLE_NICS_MAX SNAPSHOTS_PER_DRIVE_MAX SNAPSHOT_TAG_BYTES_MAX SIDECAR_BYTES_MAX
            SLOW_FACTOR_MAX MONITOR_DROPS_MAX SCENARIO_STEPS_MAX SCENARIO_FILE_BYTES_MAX CHAOS_PIECES_MAX CHAOS_DELAY_NS_MAX CHAOS_SLOW_FACTOR_MAX
            RAM_MB_MAX TCP_HOST_BYTES_MAX TCP_PORT_BYTES_MAX VC_SIZE_DIGITS_MAX BOOT_SPEC_BYTES_MAX SOUND_CARD_NAME_SHOWN_BYTES_MAX HOSTFWD_FIELD_BYTES_MAX NIC_VECTORS_MAX BACKING_FILE_BYTES_MAX
            SNAPSHOT_BYTES_MAX HEADER_BYTES_MAX FRAME_BYTES_MAX FIELD_BYTES_MAX DECODE_CLAIM_BYTES_MAX CANDIDATES_MAX PROGRESS_LINES_MAX TRANSCRIPT_BYTES_MAX
            PREAMBLE_BYTES_MAX SNAPSHOT_ENVELOPE_BYTES_MAX
            READ_BYTES_MAX OUTPUT_QUEUE_BYTES_MAX OUTPUT_QUEUE_OVERFLOW_BYTES_MAX BATCH_EVENTS_MAX LOOP_EVENTS_QUEUED_MAX FDS_PER_READ_MAX FDS_HELD_MAX MIGRATION_BACKLOG_BYTES_MAX INCOMING_TURN_BYTES_MAX EXIT_FLUSH_MS_MAX FLEET_VMS_MAX
            EXPLORE_TIMEOUT_S_MAX RELAY_MESSAGE_BYTES_MAX
            PROXY_CLIENTS_MAX RELAY_READ_BYTES_MAX UNUSED_LISTED_MAX
            TEMP_DIR_ATTEMPTS_MAX
        }
    }

    /// The value a cell of the table's `value` column states: `N WORDS` (a
    /// count, bytes, ms...), `N KiB`..`N EiB`, `1 h, in ns|ms`, `1 day, in s`,
    /// `4 TiB, in MiB`, `2^31 - 1`; `None` for a value given only in words.
    fn stated(cell: &str) -> Option<u128> {
        let (amount, rest) = if let Some(rest) = cell.strip_prefix("2^31 - 1") {
            ((1u128 << 31) - 1, rest)
        } else {
            let digits: String = cell
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .collect();
            (digits.replace(',', "").parse().ok()?, &cell[digits.len()..])
        };
        let mut words = rest.split([' ', ',']).filter(|w| !w.is_empty());
        let unit: u128 = match words.next() {
            Some("KiB") => 1 << 10,
            Some("MiB") => 1 << 20,
            Some("GiB") => 1 << 30,
            Some("TiB") => 1 << 40,
            Some("EiB") => 1 << 60,
            Some("h") => 3_600,
            Some("day") => 86_400,
            _ => 1,
        };
        if words.next() == Some("plus") {
            return None;
        }
        let per: u128 = match words.next_back() {
            Some("ns") if unit == 3_600 => 1_000_000_000,
            Some("ms") if unit == 3_600 => 1_000,
            Some("MiB") => return Some(amount * unit / (1 << 20)),
            _ => 1,
        };
        Some(amount * unit * per)
    }

    #[test]
    fn the_index_states_every_limits_value() {
        let doc = include_str!("limits.rs");
        let rows: Vec<(&str, &str)> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("//! | [`"))
            .filter_map(|l| {
                let (name, rest) = l.split_once("`] | ")?;
                Some((name, rest.split(" | ").next()?))
            })
            .collect();
        let values = values();
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            values.iter().map(|v| v.0).collect::<Vec<_>>(),
            "the table and this test list different limits"
        );
        for ((name, cell), (_, value)) in rows.iter().zip(&values) {
            match stated(cell) {
                Some(stated) => assert_eq!(stated, *value, "{name}: the index says {cell}"),
                None => assert!(*value > SNAPSHOT_BYTES_MAX as u128, "{name}: {cell}"),
            }
        }
    }

    #[test]
    fn stated_reads_each_form_of_the_value_column() {
        assert_eq!(stated("1 MiB"), Some(1 << 20));
        assert_eq!(stated("100,000 candidates"), Some(100_000));
        assert_eq!(stated("1 h, in ns"), Some(3_600_000_000_000));
        assert_eq!(stated("1 h, in ms"), Some(3_600_000));
        assert_eq!(stated("1 day, in s"), Some(86_400));
        assert_eq!(stated("4 TiB, in MiB"), Some(4 << 20));
        assert_eq!(stated("2^31 - 1 s"), Some(0x7FFF_FFFF));
        assert_eq!(stated("2000 ms"), Some(2000));
        assert_eq!(stated("64 MiB plus the envelope's prefix and hash"), None);
    }
}
