//! The state-machine model test (proptest-state-machine): random command
//! sequences from two clients at a time (connecting, negotiating, leaving),
//! with right and wrong arguments, go to the engine and to a small reference
//! model, and every observable result must agree: the reply's kind, its error
//! class and id, the STOP/RESUME events each client sees, and the relevant
//! query output (run state, trays and media, named fds, netdevs, the balloon,
//! migration status).
//!
//! The model is written from the seed (`qmp-commands-0.14.hx`) and the
//! reference (`qmp-0.14-facts.md`, sections 1 and 4 and the command table), not
//! from the handlers: each rule below cites what it follows.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList};
use qmpsim::machine::Effect;
use qmpsim::qmp::session::{ClientId, FdHandle};
use serde_json::Value;

/// RAM of the model machine (`-m 128`, the default).
const RAM_BYTES: u64 = 128 << 20;
/// Page size the balloon counts in.
const PAGE_BYTES: u64 = 4096;
/// Client slots: two clients may be connected at once.
const SLOTS: usize = 2;

/// Drives of the model machine: name, removable, initially inserted file, locked.
const DRIVES: &[(&str, bool, Option<&str>, bool)] = &[
    ("ide0-hd0", false, Some("hd.img"), false),
    ("ide1-cd1", true, Some("locked.iso"), true),
    ("ide1-cd0", true, None, false),
    ("floppy0", true, None, false),
    ("sd0", true, None, false),
];

/// Image files the edge has probed (`cd.iso` plain, `enc.qcow2` encrypted);
/// `missing.iso` was never probed and cannot be opened.
const FILES: &[&str] = &["cd.iso", "enc.qcow2", "missing.iso"];

fn machine() -> MachineConfig {
    let drive = |spec: &str, info: ImageInfo| {
        let mut d = DriveConfig::default();
        for item in spec.split(',') {
            let (k, v) = item.split_once('=').unwrap_or((item, "on"));
            d.opts.push(k, v);
        }
        d.probe = Some(ImageProbe::Found(info));
        d
    };
    let raw = |size| ImageInfo {
        format: "raw".to_owned(),
        size_bytes: size,
        backing_file: None,
        encrypted: false,
    };
    let spice = OptionList::from_iter([("port", "5930"), ("disable-ticketing", "on")]);
    let balloon = OptionList::from_iter([("type", "virtio")]);
    MachineConfig {
        drives: vec![
            drive("file=hd.img,index=0,media=disk", raw(1 << 30)),
            drive(
                "file=locked.iso,index=3,media=cdrom,x-locked=on",
                raw(1 << 20),
            ),
        ],
        vnc: Some(":1".to_owned()),
        spice: Some(spice),
        balloon: Some(balloon),
        ..MachineConfig::default()
    }
}

/// A fault injected into a command's arguments (facts §4, argument checking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// An argument the command does not take → `InvalidParameter`.
    Extra,
    /// A mandatory argument left out → `MissingParameter`.
    Missing,
    /// A string argument given as an integer → `InvalidParameterType`.
    WrongType,
}

/// What a client does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Capabilities,
    Stop,
    Cont,
    QueryStatus,
    QueryBlock,
    Eject {
        device: &'static str,
        force: bool,
    },
    Change {
        device: &'static str,
        file: &'static str,
    },
    BlockPasswd {
        device: &'static str,
    },
    SetPassword {
        protocol: &'static str,
        connected: Option<&'static str>,
    },
    ExpirePassword {
        protocol: &'static str,
    },
    GetFd {
        name: &'static str,
        pass: bool,
    },
    CloseFd {
        name: &'static str,
    },
    NetdevAdd {
        id: &'static str,
    },
    NetdevDel {
        id: &'static str,
    },
    Balloon {
        mb: u64,
    },
    QueryBalloon,
    Migrate {
        uri: &'static str,
    },
    MigrateCancel,
    QueryMigrate,
    NoSuchCommand,
}

/// One step of the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Connect(usize),
    Disconnect(usize),
    Send {
        slot: usize,
        cmd: Cmd,
        fault: Option<Fault>,
    },
    /// Virtual time passes (milliseconds).
    Advance(u64),
}

/// Migration status. The test's edge reports every migration's destination as
/// stalled right after it starts (`Input::MigrationStalled`), so a started
/// migration stays `active` until cancelled, whatever time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Migration {
    /// Never started: `query-migrate` returns `{}`.
    None,
    /// `active`.
    Active,
    /// `cancelled`.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    id: u32,
    connected: bool,
    negotiated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Medium {
    file: String,
    /// Encrypted and no key given yet.
    needs_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Drive {
    removable: bool,
    locked: bool,
    medium: Option<Medium>,
}

/// What the last step must produce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Expect {
    /// The sender and its reply: `None` for success, or the error class.
    reply: Option<(u32, Option<&'static str>)>,
    /// Events each client must see, in order (only STOP and RESUME are modelled).
    events: BTreeMap<u32, Vec<&'static str>>,
    /// A query whose output the model predicts.
    query: Option<Query>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Query {
    Running(bool),
    /// Device name → inserted file.
    Block(Vec<(String, Option<String>)>),
    /// The balloon's target `actual` in bytes.
    Balloon(u64),
    Migrate(Migration),
}

/// The reference model.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    running: bool,
    slots: Vec<Slot>,
    next_id: u32,
    drives: BTreeMap<&'static str, Drive>,
    named_fds: BTreeSet<&'static str>,
    netdevs: BTreeSet<&'static str>,
    balloon_target: u64,
    migration: Migration,
    /// Request ids go up by one per request.
    seq: u64,
    expect: Expect,
}

/// `Ok` when the thing to remove was there, else the error class `missing`.
fn found(removed: bool, missing: &'static str) -> Result<(), &'static str> {
    if removed {
        Ok(())
    } else {
        Err(missing)
    }
}

impl Model {
    fn new() -> Self {
        let drives = DRIVES
            .iter()
            .map(|&(name, removable, file, locked)| {
                let medium = file.map(|f| Medium {
                    file: f.to_owned(),
                    needs_key: false,
                });
                (
                    name,
                    Drive {
                        removable,
                        locked,
                        medium,
                    },
                )
            })
            .collect();
        Self {
            running: true,
            slots: (0..SLOTS)
                .map(|_| Slot {
                    id: 0,
                    connected: false,
                    negotiated: false,
                })
                .collect(),
            next_id: 1,
            drives,
            named_fds: BTreeSet::new(),
            netdevs: BTreeSet::new(),
            balloon_target: RAM_BYTES,
            migration: Migration::None,
            seq: 0,
            expect: Expect::default(),
        }
    }

    fn negotiated_ids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|s| s.connected && s.negotiated)
            .map(|s| s.id)
            .collect()
    }

    fn broadcast(&mut self, event: &'static str) {
        for id in self.negotiated_ids() {
            self.expect.events.entry(id).or_default().push(event);
        }
    }

    /// The command's mandatory arguments, for the `Missing` fault (facts §4).
    fn has_mandatory(cmd: &Cmd) -> bool {
        !matches!(
            cmd,
            Cmd::Capabilities
                | Cmd::Stop
                | Cmd::Cont
                | Cmd::QueryStatus
                | Cmd::QueryBlock
                | Cmd::QueryBalloon
                | Cmd::MigrateCancel
                | Cmd::QueryMigrate
                | Cmd::NoSuchCommand
        )
    }

    /// A string argument the `WrongType` fault can spoil.
    /// (`netdev_add` takes its arguments as options, `O`, so types are not
    /// checked by the dispatcher.)
    fn has_string_arg(cmd: &Cmd) -> bool {
        Self::has_mandatory(cmd) && !matches!(cmd, Cmd::Balloon { .. } | Cmd::NetdevAdd { .. })
    }

    /// netdev_add's id checks, made when its option group is created.
    fn netdev_id_error(&self, id: &str) -> Option<&'static str> {
        if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
            Some("InvalidParameterValue")
        } else if self.netdevs.contains(id) {
            Some("DuplicateId")
        } else {
            None
        }
    }

    /// Runs a command from a negotiated client (facts §4 and the command table).
    fn execute(&mut self, cmd: &Cmd) -> Result<(), &'static str> {
        match cmd {
            Cmd::Capabilities => Err("CommandNotFound"),
            Cmd::NoSuchCommand => Err("CommandNotFound"),
            // "stop: always {}; STOP event first if running".
            Cmd::Stop => {
                if self.running {
                    self.broadcast("STOP");
                    self.running = false;
                }
                Ok(())
            }
            // "cont: an encrypted drive without key → DeviceEncrypted; else {} (RESUME
            // event first if stopped)".
            Cmd::Cont => {
                if self
                    .drives
                    .values()
                    .any(|d| d.medium.as_ref().is_some_and(|m| m.needs_key))
                {
                    return Err("DeviceEncrypted");
                }
                if !self.running {
                    self.broadcast("RESUME");
                    self.running = true;
                }
                Ok(())
            }
            Cmd::QueryStatus => {
                self.expect.query = Some(Query::Running(self.running));
                Ok(())
            }
            Cmd::QueryBlock => {
                let block = DRIVES
                    .iter()
                    .map(|(name, ..)| {
                        let file = self.drives[name].medium.as_ref().map(|m| m.file.clone());
                        ((*name).to_owned(), file)
                    })
                    .collect();
                self.expect.query = Some(Query::Block(block));
                Ok(())
            }
            // "eject: unknown → DeviceNotFound. Without force: not removable →
            // DeviceNotRemovable; guest-locked → DeviceLocked. With force these checks
            // are skipped. Empty drive ejects fine."
            Cmd::Eject { device, force } => {
                let drive = self.drives.get_mut(device).ok_or("DeviceNotFound")?;
                if !force && !drive.removable {
                    return Err("DeviceNotRemovable");
                }
                if !force && drive.locked {
                    return Err("DeviceLocked");
                }
                drive.medium = None;
                Ok(())
            }
            // "change (block): unknown → DeviceNotFound; then eject checks; then open;
            // failure → OpenFileFailed (medium already ejected); encrypted image →
            // DeviceEncrypted."
            Cmd::Change { device, file } => {
                let drive = self.drives.get_mut(device).ok_or("DeviceNotFound")?;
                if !drive.removable {
                    return Err("DeviceNotRemovable");
                }
                if drive.locked {
                    return Err("DeviceLocked");
                }
                drive.medium = None;
                match *file {
                    "missing.iso" => Err("OpenFileFailed"),
                    "enc.qcow2" => {
                        drive.medium = Some(Medium {
                            file: (*file).to_owned(),
                            needs_key: true,
                        });
                        Err("DeviceEncrypted")
                    }
                    _ => {
                        drive.medium = Some(Medium {
                            file: (*file).to_owned(),
                            needs_key: false,
                        });
                        Ok(())
                    }
                }
            }
            // "block_passwd: unknown → DeviceNotFound; not encrypted (incl. empty
            // drive) → DeviceNotEncrypted" (the image has no known key: any works).
            Cmd::BlockPasswd { device } => {
                let drive = self.drives.get_mut(device).ok_or("DeviceNotFound")?;
                match drive.medium.as_mut() {
                    Some(m) if m.file == "enc.qcow2" => {
                        m.needs_key = false;
                        Ok(())
                    }
                    _ => Err("DeviceNotEncrypted"),
                }
            }
            // "set_password: connected not keep/disconnect/fail → InvalidParameter
            // (checked first); vnc with fail/disconnect → InvalidParameter; other
            // protocol → InvalidParameter". SPICE and VNC are both configured.
            Cmd::SetPassword {
                protocol,
                connected,
            } => {
                if connected.is_some_and(|c| !["keep", "disconnect", "fail"].contains(&c)) {
                    return Err("InvalidParameter");
                }
                match *protocol {
                    "vnc" if connected.is_some_and(|c| c != "keep") => Err("InvalidParameter"),
                    "vnc" | "spice" => Ok(()),
                    _ => Err("InvalidParameter"),
                }
            }
            // "expire_password: other protocol → InvalidParameter".
            Cmd::ExpirePassword { protocol } => match *protocol {
                "vnc" | "spice" => Ok(()),
                _ => Err("InvalidParameter"),
            },
            // "getfd: no fd passed → FdNotSupplied (checked first); name starting with
            // a digit → InvalidParameterValue; existing name → replaced silently".
            Cmd::GetFd { name, pass } => {
                // The descriptor is only sent with a getfd that reaches this point.
                if !pass {
                    return Err("FdNotSupplied");
                }
                if name.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err("InvalidParameterValue");
                }
                self.named_fds.insert(name);
                Ok(())
            }
            // "closefd: unknown → FdNotFound".
            Cmd::CloseFd { name } => found(self.named_fds.remove(name), "FdNotFound"),
            // "netdev_add: id bad syntax → InvalidParameterValue; id used →
            // DuplicateId".
            Cmd::NetdevAdd { id } => {
                if let Some(e) = self.netdev_id_error(id) {
                    return Err(e);
                }
                self.netdevs.insert(id);
                Ok(())
            }
            // "netdev_del: not found → DeviceNotFound".
            Cmd::NetdevDel { id } => found(self.netdevs.remove(id), "DeviceNotFound"),
            // "balloon sets the target (clamped to RAM size)"; value 0 is the stats
            // quirk, not generated.
            Cmd::Balloon { mb } => {
                self.balloon_target = (mb << 20).min(RAM_BYTES);
                Ok(())
            }
            Cmd::QueryBalloon => {
                self.expect.query = Some(Query::Balloon(self.balloon_target));
                Ok(())
            }
            // "migrate: already active or unknown URI scheme → UndefinedError;
            // returns at once".
            Cmd::Migrate { uri } => {
                if self.migration == Migration::Active || !uri.starts_with("tcp:") {
                    return Err("UndefinedError");
                }
                self.migration = Migration::Active;
                Ok(())
            }
            // "migrate_cancel: always {}".
            Cmd::MigrateCancel => {
                if self.migration == Migration::Active {
                    self.migration = Migration::Cancelled;
                }
                Ok(())
            }
            Cmd::QueryMigrate => {
                self.expect.query = Some(Query::Migrate(self.migration));
                Ok(())
            }
        }
    }

    fn apply(mut self, step: &Step) -> Self {
        self.expect = Expect::default();
        match step {
            Step::Connect(slot) => {
                self.slots[*slot] = Slot {
                    id: self.next_id,
                    connected: true,
                    negotiated: false,
                };
                self.next_id += 1;
            }
            Step::Disconnect(slot) => self.slots[*slot].connected = false,
            Step::Advance(_) => {}
            Step::Send { slot, cmd, fault } => {
                self.seq += 1;
                let sender = self.slots[*slot].id;
                let negotiated = self.slots[*slot].negotiated;
                // Facts §1: in negotiation mode every command but qmp_capabilities
                // is CommandNotFound, and qmp_capabilities in command mode too; the
                // mode check comes before the table lookup and argument checks.
                let result =
                    if *cmd == Cmd::NoSuchCommand || negotiated == (*cmd == Cmd::Capabilities) {
                        Err("CommandNotFound")
                    } else if let (Cmd::NetdevAdd { id }, Some(fault)) = (cmd, fault) {
                        // netdev_add takes options (`O`): 0.14 creates the option group
                        // first (id syntax, then DuplicateId), then net_client_init
                        // finds a missing type or an unknown option, and deletes it.
                        Err(self.netdev_id_error(id).unwrap_or(match fault {
                            Fault::Missing => "MissingParameter",
                            _ => "InvalidParameter",
                        }))
                    } else if let Some(fault) = fault {
                        // Facts §4: mandatory pass first, then the type pass.
                        Err(match fault {
                            Fault::Missing => "MissingParameter",
                            Fault::Extra => "InvalidParameter",
                            Fault::WrongType => "InvalidParameterType",
                        })
                    } else if *cmd == Cmd::Capabilities {
                        self.slots[*slot].negotiated = true;
                        Ok(())
                    } else {
                        self.execute(cmd)
                    };
                if result.is_err() {
                    self.expect.query = None;
                }
                self.expect.reply = Some((sender, result.err()));
            }
        }
        self
    }
}

fn step_strategy(state: &Model) -> BoxedStrategy<Step> {
    let connected: Vec<usize> = (0..SLOTS).filter(|&s| state.slots[s].connected).collect();
    let free: Vec<usize> = (0..SLOTS).filter(|&s| !state.slots[s].connected).collect();
    let device = prop::sample::select(vec![
        "ide0-hd0", "ide1-cd0", "ide1-cd1", "floppy0", "sd0", "nosuch",
    ]);
    let cmd = prop_oneof![
        3 => Just(Cmd::Capabilities),
        3 => Just(Cmd::Stop),
        3 => Just(Cmd::Cont),
        3 => Just(Cmd::QueryStatus),
        3 => Just(Cmd::QueryBlock),
        3 => (device.clone(), any::<bool>()).prop_map(|(device, force)| Cmd::Eject { device, force }),
        3 => (device.clone(), prop::sample::select(FILES)).prop_map(|(device, file)| Cmd::Change { device, file }),
        2 => device.prop_map(|device| Cmd::BlockPasswd { device }),
        2 => (
            prop::sample::select(vec!["vnc", "spice", "rdp"]),
            prop::option::of(prop::sample::select(vec!["keep", "disconnect", "fail", "maybe"])),
        )
            .prop_map(|(protocol, connected)| Cmd::SetPassword { protocol, connected }),
        1 => prop::sample::select(vec!["vnc", "spice", "rdp"]).prop_map(|protocol| Cmd::ExpirePassword { protocol }),
        2 => (prop::sample::select(vec!["fd-a", "fd-b", "9fd"]), any::<bool>())
            .prop_map(|(name, pass)| Cmd::GetFd { name, pass }),
        2 => prop::sample::select(vec!["fd-a", "fd-b", "9fd"]).prop_map(|name| Cmd::CloseFd { name }),
        2 => prop::sample::select(vec!["net0", "net1", "0net"]).prop_map(|id| Cmd::NetdevAdd { id }),
        2 => prop::sample::select(vec!["net0", "net1"]).prop_map(|id| Cmd::NetdevDel { id }),
        2 => (1u64..256).prop_map(|mb| Cmd::Balloon { mb }),
        2 => Just(Cmd::QueryBalloon),
        1 => prop::sample::select(vec!["tcp:127.0.0.1:4444", "bogus:x"]).prop_map(|uri| Cmd::Migrate { uri }),
        1 => Just(Cmd::MigrateCancel),
        2 => Just(Cmd::QueryMigrate),
        1 => Just(Cmd::NoSuchCommand),
    ];
    let fault = prop_oneof![
        8 => Just(None),
        1 => Just(Some(Fault::Extra)),
        1 => Just(Some(Fault::Missing)),
        1 => Just(Some(Fault::WrongType)),
    ];
    let mut options: Vec<(u32, BoxedStrategy<Step>)> = Vec::new();
    if !free.is_empty() {
        options.push((
            2,
            prop::sample::select(free).prop_map(Step::Connect).boxed(),
        ));
    }
    if !connected.is_empty() {
        options.push((
            1,
            prop::sample::select(connected.clone())
                .prop_map(Step::Disconnect)
                .boxed(),
        ));
        options.push((
            16,
            (prop::sample::select(connected), cmd, fault)
                .prop_filter_map("fault applies", |(slot, cmd, fault)| {
                    let applies = match fault {
                        None | Some(Fault::Extra) => true,
                        Some(Fault::Missing) => Model::has_mandatory(&cmd),
                        Some(Fault::WrongType) => Model::has_string_arg(&cmd),
                    };
                    applies.then_some(Step::Send { slot, cmd, fault })
                })
                .boxed(),
        ));
    }
    options.push((1, (1u64..2000).prop_map(Step::Advance).boxed()));
    proptest::strategy::Union::new_weighted(options).boxed()
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        step_strategy(state)
    }

    fn apply(state: Model, step: &Step) -> Model {
        state.apply(step)
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        match step {
            Step::Connect(s) => !state.slots[*s].connected,
            Step::Disconnect(s) | Step::Send { slot: s, .. } => state.slots[*s].connected,
            Step::Advance(_) => true,
        }
    }
}

/// The engine under test, with what the checks need to remember.
struct Sut {
    engine: Engine,
    /// Where query-balloon's `actual` may be: between the last reported value
    /// and every target set since.
    balloon_range: (u64, u64),
    next_fd: u64,
}

/// The JSON arguments of a command, then the fault applied to them.
fn request(cmd: &Cmd, fault: Option<Fault>, id: u64) -> String {
    let (name, mut args): (&str, Vec<(&str, Value)>) = match cmd {
        Cmd::Capabilities => ("qmp_capabilities", vec![]),
        Cmd::Stop => ("stop", vec![]),
        Cmd::Cont => ("cont", vec![]),
        Cmd::QueryStatus => ("query-status", vec![]),
        Cmd::QueryBlock => ("query-block", vec![]),
        Cmd::Eject { device, force } => {
            let mut a = vec![("device", Value::from(*device))];
            if *force {
                a.push(("force", Value::from(true)));
            }
            ("eject", a)
        }
        Cmd::Change { device, file } => (
            "change",
            vec![
                ("device", Value::from(*device)),
                ("target", Value::from(*file)),
            ],
        ),
        Cmd::BlockPasswd { device } => (
            "block_passwd",
            vec![
                ("device", Value::from(*device)),
                ("password", Value::from("12345")),
            ],
        ),
        Cmd::SetPassword {
            protocol,
            connected,
        } => {
            let mut a = vec![
                ("protocol", Value::from(*protocol)),
                ("password", Value::from("s3cret")),
            ];
            if let Some(c) = connected {
                a.push(("connected", Value::from(*c)));
            }
            ("set_password", a)
        }
        Cmd::ExpirePassword { protocol } => (
            "expire_password",
            vec![
                ("protocol", Value::from(*protocol)),
                ("time", Value::from("+60")),
            ],
        ),
        Cmd::GetFd { name, .. } => ("getfd", vec![("fdname", Value::from(*name))]),
        Cmd::CloseFd { name } => ("closefd", vec![("fdname", Value::from(*name))]),
        Cmd::NetdevAdd { id } => (
            "netdev_add",
            vec![("type", Value::from("user")), ("id", Value::from(*id))],
        ),
        Cmd::NetdevDel { id } => ("netdev_del", vec![("id", Value::from(*id))]),
        Cmd::Balloon { mb } => ("balloon", vec![("value", Value::from(mb << 20))]),
        Cmd::QueryBalloon => ("query-balloon", vec![]),
        Cmd::Migrate { uri } => ("migrate", vec![("uri", Value::from(*uri))]),
        Cmd::MigrateCancel => ("migrate_cancel", vec![]),
        Cmd::QueryMigrate => ("query-migrate", vec![]),
        Cmd::NoSuchCommand => ("no-such-command", vec![]),
    };
    match fault {
        Some(Fault::Extra) => args.push(("bogus", Value::from(1))),
        // netdev_add checks `type` before `id` (facts: "checked after type"), and
        // every other command's first argument is mandatory.
        Some(Fault::Missing) => {
            args.remove(0);
        }
        Some(Fault::WrongType) => {
            if let Some(a) = args.iter_mut().find(|(_, v)| v.is_string()) {
                a.1 = Value::from(7);
            }
        }
        None => {}
    }
    let arguments: serde_json::Map<String, Value> =
        args.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    serde_json::json!({"execute": name, "arguments": arguments, "id": id}).to_string()
}

fn sent(outputs: &[Output]) -> Vec<(u32, Value)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { client, data } => Some((client.0, data)),
            _ => None,
        })
        .flat_map(|(c, data)| {
            String::from_utf8_lossy(data)
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(|l| (c, serde_json::from_str(l).unwrap_or(Value::Null)))
                .collect::<Vec<_>>()
        })
        .collect()
}

struct EngineTest;

impl StateMachineTest for EngineTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        let mut engine = Engine::new(machine());
        let probe = |format: &str, encrypted| {
            ImageProbe::Found(ImageInfo {
                format: format.to_owned(),
                size_bytes: 1 << 20,
                backing_file: None,
                encrypted,
            })
        };
        engine.step(Input::ImageProbed {
            path: "cd.iso".to_owned(),
            probe: probe("raw", false),
        });
        engine.step(Input::ImageProbed {
            path: "enc.qcow2".to_owned(),
            probe: probe("qcow2", true),
        });
        Sut {
            engine,
            balloon_range: (RAM_BYTES, RAM_BYTES),
            next_fd: 100,
        }
    }

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
        let outputs = match &step {
            Step::Connect(slot) => sut.engine.step(Input::Connect {
                client: ClientId(model.slots[*slot].id),
                monitor: 0,
            }),
            Step::Disconnect(slot) => sut.engine.step(Input::Disconnect {
                client: ClientId(model.slots[*slot].id),
            }),
            Step::Advance(ms) => {
                let at = qmpsim::machine::clock::VirtualTime(sut.engine.now().0 + ms * 1_000_000);
                sut.engine.step(Input::AdvanceTo { at })
            }
            Step::Send { slot, cmd, fault } => {
                let client = ClientId(model.slots[*slot].id);
                // The descriptor goes only with a getfd that reaches its handler, so
                // that none is left pending for a later message.
                let reaches_handler = fault.is_none()
                    && model
                        .expect
                        .reply
                        .is_some_and(|(_, c)| c != Some("CommandNotFound"));
                if let (Cmd::GetFd { pass: true, .. }, true) = (cmd, reaches_handler) {
                    sut.next_fd += 1;
                    sut.engine.step(Input::Fd {
                        client,
                        fd: FdHandle(sut.next_fd),
                    });
                }
                sut.engine.step(Input::Bytes {
                    client,
                    data: request(cmd, *fault, model.seq).into_bytes(),
                })
            }
        };
        assert_eq!(sut.engine.exited(), None, "the engine exited");
        // The edge: every migration's destination is stalled at once.
        for o in &outputs {
            if let Output::Effect(Effect::MigrationStart { id, .. }) = o {
                let more = sut.engine.step(Input::MigrationStalled {
                    id: *id,
                    stalled: true,
                });
                assert!(sent(&more).is_empty(), "stalling a migration sent {more:?}");
            }
        }
        let lines = sent(&outputs);
        // Events never carry an id; only STOP and RESUME are modelled.
        let mut events: BTreeMap<u32, Vec<&'static str>> = BTreeMap::new();
        for (c, v) in &lines {
            if v.get("event").is_some() {
                assert!(v.get("id").is_none(), "an event carries an id: {v}");
                for name in ["STOP", "RESUME"] {
                    if v["event"] == name {
                        events.entry(*c).or_default().push(name);
                    }
                }
            }
        }
        assert_eq!(events, model.expect.events, "events after {step:?}");
        let replies: Vec<&(u32, Value)> = lines
            .iter()
            .filter(|(_, v)| v.get("event").is_none() && v.get("QMP").is_none())
            .collect();
        let Some((sender, class)) = model.expect.reply else {
            assert!(
                replies.is_empty(),
                "unexpected replies after {step:?}: {replies:?}"
            );
            return sut;
        };
        let [(to, reply)] = replies.as_slice() else {
            panic!("expected one reply to {sender} after {step:?}, got {replies:?}");
        };
        assert_eq!(*to, sender, "reply went to the wrong client");
        assert_eq!(reply["id"], Value::from(model.seq), "reply id: {reply}");
        let got_class = reply["error"]["class"].as_str();
        match (class, got_class) {
            (Some(want), Some(got)) => assert_eq!(got, want, "after {step:?}: {reply}"),
            (None, None) => {}
            _ => panic!("after {step:?}: expected {class:?}, got {reply}"),
        }
        if let (
            Step::Send {
                cmd: Cmd::Balloon { .. },
                ..
            },
            None,
        ) = (&step, class)
        {
            let (lo, hi) = sut.balloon_range;
            sut.balloon_range = (lo.min(model.balloon_target), hi.max(model.balloon_target));
        }
        if let Some(query) = &model.expect.query {
            check_query(&mut sut, query, &reply["return"]);
        }
        sut
    }
}

fn check_query(sut: &mut Sut, query: &Query, ret: &Value) {
    match query {
        Query::Running(running) => assert_eq!(ret["running"], Value::from(*running), "{ret}"),
        Query::Block(expected) => {
            let got: Vec<(String, Option<String>)> = ret
                .as_array()
                .expect("query-block returns a list")
                .iter()
                .map(|d| {
                    let file = d["inserted"]["file"].as_str().map(str::to_owned);
                    (d["device"].as_str().unwrap_or_default().to_owned(), file)
                })
                .collect();
            let mut got = got;
            got.sort();
            let mut expected = expected.clone();
            expected.sort();
            assert_eq!(got, expected);
        }
        // The guest driver moves `actual` towards the target, never past it
        // (targets are whole pages here).
        Query::Balloon(target) => {
            let actual = ret["actual"].as_u64().expect("actual is a number");
            let (lo, hi) = sut.balloon_range;
            assert!(
                (lo..=hi).contains(&actual),
                "actual {actual} outside {lo}..={hi}"
            );
            assert_eq!(actual % PAGE_BYTES, 0, "actual {actual} is not whole pages");
            sut.balloon_range = (actual.min(*target), actual.max(*target));
        }
        Query::Migrate(m) => {
            let status = ret["status"].as_str();
            let ok = match m {
                Migration::None => ret.as_object().is_some_and(|o| o.is_empty()),
                Migration::Active => status == Some("active"),
                Migration::Cancelled => status == Some("cancelled"),
            };
            assert!(ok, "query-migrate for {m:?}: {ret}");
        }
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: crate::cases(64),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("fuzz/regressions/model.txt"),
        )),
        ..Config::default()
    })]

    #[test]
    fn model_engine_agrees_with_the_reference(sequential 1..48 => EngineTest);
}
