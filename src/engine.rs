//! `Engine`: the one public door into the deterministic core.
//!
//! `step(Input) -> Vec<Output>` is a pure state transition: everything that can
//! differ between runs enters as an [`Input`], everything done to the world leaves
//! as an [`Output`]. Virtual time advances by [`MESSAGE_STEP_NS`] for every complete
//! message and every connect or disconnect, never by read sizes, and otherwise only
//! through [`Input::AdvanceTo`]. Sessions live in a `BTreeMap` keyed by client, so
//! events are broadcast in client order. At most [`CLIENTS_MAX`] sessions exist at
//! once: a connect past that gets no session and no greeting, only a diagnostic
//! (`Effect::Stderr`), and the edge, finding no session for it, closes the
//! connection. `digest` is the sha256 of the bincode encoding of the whole state.
//!
//! **Effects before replies.** Every effect a command causes that a client can
//! observe (a file written by `screendump`, `memsave` or `pmemsave`, a descriptor
//! closed by `closefd` or a replaced `getfd`, a migration channel opened by
//! `migrate` or closed by `migrate_cancel`) comes out of `step` before the reply
//! of that command, as 0.14 carries it out inside the command, before it answers.
//! The edge carries out outputs in order and finishes each effect before it
//! sends any byte that follows it, so a client that acts on the reply (opens the
//! file, reads the descriptor's peer, accepts the connection) finds the effect
//! done. Order within one command's outputs: events it queued, its effects, its
//! reply, then what its main-loop requests did (events, effects, exit).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::machine::clock::VirtualTime;
use crate::machine::config::{ChardevBackend, ImageProbe, MachineConfig, MonitorMode};
use crate::machine::devices::block::IMAGE_PROBES_MAX;
use crate::machine::placement::GapSide;
use crate::machine::snapshots::InternalSnapshot;
use crate::machine::{Effect, Machine};
use crate::migration_stream::Preamble;
use crate::monitor::mux::{self, Mux, MuxAction};
use crate::monitor::readline::Readline;
use crate::monitor::telnet::{self, Telnet};
use crate::qmp::dispatch;
use crate::qmp::session::{ClientId, FdHandle, Mode, Session};
use crate::wire::framing::Frame;
use crate::wire::message::{self, Timestamp};

/// Virtual time that passes for each complete message, connect and disconnect.
pub const MESSAGE_STEP_NS: u64 = 1_000_000;
/// Most clients connected at once; a connect past it is refused (see [`Input::Connect`]).
pub const CLIENTS_MAX: usize = 64;

/// Something that happened in the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A client connected to monitor `monitor` (index into the config's monitors).
    /// With [`CLIENTS_MAX`] clients already connected it is refused: no session,
    /// no greeting, an `Effect::Stderr` line; the edge then closes the connection.
    Connect {
        /// The new client's id (never reused).
        client: ClientId,
        /// Which monitor.
        monitor: u32,
    },
    /// Bytes arrived from a client.
    Bytes {
        /// From whom.
        client: ClientId,
        /// What. (`serde_bytes`: the same encoding as a `Vec<u8>`, decoded in
        /// one copy instead of byte by byte.)
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A descriptor arrived (SCM_RIGHTS) just before the next bytes.
    Fd {
        /// From whom.
        client: ClientId,
        /// The edge's handle for it.
        fd: FdHandle,
    },
    /// A client hung up.
    Disconnect {
        /// Who.
        client: ClientId,
    },
    /// Let virtual time pass to `at`, firing due timers.
    AdvanceTo {
        /// The new virtual time.
        at: VirtualTime,
    },
    /// The channel of outgoing migration `id` (opened for
    /// `Effect::MigrationStart`) could not be opened or broke: connect refused,
    /// host name not found, write error, or the `exec:` command exited. An
    /// active migration becomes `failed`; a completed one becomes `failed` and
    /// the VM is restarted if the migration had stopped it (0.14's failed final
    /// stage). Reports for an older migration are ignored.
    MigrationFailed {
        /// The migration's id from `Effect::MigrationStart`.
        id: u64,
    },
    /// The destination of migration `id` fell more than the edge's backlog limit
    /// behind (`stalled: true`: the model sends nothing more and stays `active`),
    /// or caught up again (`stalled: false`).
    MigrationStalled {
        /// The migration's id.
        id: u64,
        /// Whether it is behind.
        stalled: bool,
    },
    /// The process received a terminating signal.
    Signal {
        /// Which.
        signal: Signal,
    },
    /// The edge probed an image file a client may name in `change` (it sends
    /// this before the request that names it). Stored in
    /// `Machine::image_probes`; takes no virtual time.
    ImageProbed {
        /// The file name exactly as the client will give it.
        path: String,
        /// What the probe found.
        probe: ImageProbe,
    },
    /// The edge read the preamble of the incoming migration (`-incoming`). A
    /// source with another RAM size or a device this machine lacks is refused:
    /// `load of migration failed` on stderr, exit status 0 (0.14).
    IncomingPreamble {
        /// What the source announced.
        preamble: Preamble,
    },
    /// The edge read the whole incoming migration stream: `snapshot` is the
    /// source's state envelope. It is checked (envelope, RAM size, devices) and
    /// taken over, then the VM runs, or stays paused with `-S`.
    IncomingState {
        /// The snapshot envelope (`crate::snapshot`).
        snapshot: Vec<u8>,
    },
    /// The incoming migration stream could not be read to its end: it broke,
    /// ended early (a cancelled or killed source) or is damaged. The machine
    /// prints why and exits as 0.14 does.
    IncomingFailed {
        /// Why, for people.
        reason: String,
    },
    /// The edge read the snapshot table of a real image at start (its sidecar
    /// file; see `crate::machine::snapshots`). Takes no virtual time.
    SnapshotTableOpened {
        /// The drive whose image it is.
        drive: String,
        /// The sidecar file, rewritten after every change.
        sidecar: String,
        /// Its snapshots, in creation order.
        entries: Vec<InternalSnapshot>,
    },
    /// `-loadvm NAME` at start: load internal snapshot NAME as HMP `loadvm`
    /// would, with messages on stderr; a failure leaves the VM paused (0.14).
    LoadVm {
        /// The snapshot's tag or id.
        name: String,
    },
}

impl Input {
    /// `client` connecting to the first monitor (index 0).
    pub fn connect(client: ClientId) -> Input {
        Input::Connect { client, monitor: 0 }
    }

    /// `data` arriving from `client` in one read.
    pub fn bytes(client: ClientId, data: impl AsRef<[u8]>) -> Input {
        Input::Bytes {
            client,
            data: data.as_ref().to_vec(),
        }
    }

    /// The client the input comes from, if it comes from one.
    pub fn client(&self) -> Option<ClientId> {
        match self {
            Input::Connect { client, .. }
            | Input::Bytes { client, .. }
            | Input::Fd { client, .. }
            | Input::Disconnect { client } => Some(*client),
            Input::AdvanceTo { .. }
            | Input::Signal { .. }
            | Input::MigrationFailed { .. }
            | Input::MigrationStalled { .. }
            | Input::ImageProbed { .. }
            | Input::IncomingPreamble { .. }
            | Input::IncomingState { .. }
            | Input::IncomingFailed { .. }
            | Input::SnapshotTableOpened { .. }
            | Input::LoadVm { .. } => None,
        }
    }
}

/// Terminating signals QEMU handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 3] = [Signal::Interrupt, Signal::Terminate, Signal::Hangup];

    /// The name without `SIG` (`INT`), as traces print it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "INT",
            Signal::Terminate => "TERM",
            Signal::Hangup => "HUP",
        }
    }

    /// The signal of [`Signal::name`] `name`.
    pub fn from_name(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Something the edge must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// Write bytes to a client.
    Send {
        /// To whom.
        client: ClientId,
        /// What (`serde_bytes`, as for [`Input::Bytes`]).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A machine side effect.
    Effect(Effect),
    /// Exit the process with this status (after flushing output).
    Exit {
        /// Exit status.
        code: i32,
    },
    /// Close a client's connection, after the bytes sent to it before (the
    /// server dropping a monitor connection). Its session is already gone:
    /// the edge feeds no `Input::Disconnect` for it.
    Close {
        /// Whose.
        client: ClientId,
    },
}

/// Every byte the `Send`s among `outputs` write, in order, whatever the client.
pub fn sent_bytes(outputs: &[Output]) -> Vec<u8> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { data, .. } => Some(data.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// The state `digest` and `snapshot` cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// The VM.
    pub machine: Machine,
    /// Connected clients.
    pub sessions: BTreeMap<ClientId, Session>,
    /// Set once an `Exit` output was produced.
    pub exited: Option<i32>,
    /// Bytes chaos holds back, per client, in the order they are to leave,
    /// each with the virtual time it may leave at (`-x-chaos` split and
    /// delay; see [`Engine::next_deadline`]).
    pub held: BTreeMap<ClientId, Vec<HeldBytes>>,
    /// Gaps of the monitor byte stream met so far (two per connect, one per
    /// complete message; see `crate::machine::placement`).
    pub gaps: u64,
}

/// A piece of a message chaos holds back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBytes {
    /// When it may leave.
    pub at: VirtualTime,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// The deterministic core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    state: EngineState,
}

impl Engine {
    /// A machine built from `config`, no clients, virtual time zero.
    pub fn new(config: MachineConfig) -> Self {
        Engine {
            state: EngineState {
                machine: Machine::new(config),
                sessions: BTreeMap::new(),
                exited: None,
                gaps: 0,
                held: BTreeMap::new(),
            },
        }
    }

    /// An engine from saved state.
    pub fn from_state(state: EngineState) -> Self {
        Engine { state }
    }

    /// The state.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The VM.
    pub fn machine(&self) -> &Machine {
        &self.state.machine
    }

    /// Current virtual time.
    pub fn now(&self) -> VirtualTime {
        self.state.machine.clock.now()
    }

    /// The earliest pending timer somebody may be waiting for (a guest reaction,
    /// migration or balloon progress), for the edge's idle clock driver. Background
    /// timers (the guest's scheduler tick) are left out, so that a VM with nothing
    /// pending does not move in virtual time while its clients think.
    pub fn next_deadline(&self) -> Option<VirtualTime> {
        let timer = self
            .state
            .machine
            .clock
            .next_deadline_matching(|t| !t.is_background());
        let held = self
            .state
            .held
            .values()
            .filter_map(|queue| queue.first().map(|h| h.at))
            .min();
        match (timer, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The exit status, once the machine has exited.
    pub fn exited(&self) -> Option<i32> {
        self.state.exited
    }

    /// The bincode encoding of the state.
    pub fn encode_state(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(&self.state, bincode::config::standard())
            .expect("engine state is plain data and always encodes")
    }

    /// sha256 of the state's bincode encoding, lowercase hex.
    pub fn digest(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hash = Sha256::digest(self.encode_state());
        let mut text = String::with_capacity(2 * hash.len());
        for b in hash {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        text
    }

    /// [`step`](Self::step) on a borrowed input: the same outputs and state,
    /// without copying the bytes of an [`Input::Bytes`] (replay feeds recorded
    /// inputs it keeps).
    pub fn step_ref(&mut self, input: &Input) -> Vec<Output> {
        match input {
            Input::Bytes { client, data } => {
                let mut out = Vec::new();
                if self.state.exited.is_none() {
                    self.bytes(*client, data, &mut out);
                    self.flush(&mut out);
                    self.shape_outputs(&mut out);
                }
                out
            }
            other => self.step(other.clone()),
        }
    }

    /// Applies one input.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state.exited.is_some() {
            return out;
        }
        match input {
            Input::Connect { client, monitor } => self.connect(client, monitor, &mut out),
            Input::Bytes { client, data } => self.bytes(client, &data, &mut out),
            Input::Fd { client, fd } => self.fd(client, fd),
            Input::Disconnect { client } => {
                self.state.held.remove(&client);
                self.disconnect(client);
            }
            Input::AdvanceTo { at } => self.state.machine.advance_to(at),
            Input::MigrationFailed { id } => self.state.machine.migration_fail(id),
            Input::MigrationStalled { id, stalled } => {
                self.state.machine.migration_stall(id, stalled);
            }
            Input::ImageProbed { path, probe } => self.image_probed(path, probe),
            Input::IncomingPreamble { preamble } => {
                self.state.machine.incoming_preamble(&preamble);
            }
            Input::IncomingState { snapshot } => self.incoming_state(&snapshot),
            Input::IncomingFailed { reason } => self.state.machine.incoming_fail(&reason),
            Input::SnapshotTableOpened {
                drive,
                sidecar,
                entries,
            } => self
                .state
                .machine
                .snapshot_table_opened(drive, sidecar, entries),
            Input::LoadVm { name } => self.state.machine.startup_loadvm(&name),
            Input::Signal { signal: _ } => {
                self.state
                    .machine
                    .requests
                    .push(crate::machine::Request::Shutdown { force_exit: true });
                self.state.machine.run_requests();
            }
        }
        self.flush(&mut out);
        self.shape_outputs(&mut out);
        out
    }

    /// With `-x-chaos`: every message to a QMP client may leave in pieces
    /// and late (`machine::chaos`); a client with bytes held back gets
    /// everything after them, in order; a connection closes, and the
    /// machine exits, only after its held bytes left. Then the held bytes
    /// whose time came leave.
    fn shape_outputs(&mut self, out: &mut Vec<Output>) {
        if self.state.machine.config.chaos.is_none() {
            return;
        }
        let timed = self.state.machine.config.clock != crate::machine::clock::ClockMode::Manual;
        let mut shaped = Vec::with_capacity(out.len());
        for output in std::mem::take(out) {
            match output {
                Output::Send { client, data } => self.shape_send(client, data, timed, &mut shaped),
                Output::Close { client } => {
                    self.release(|c, _| c == client, &mut shaped);
                    shaped.push(Output::Close { client });
                }
                Output::Exit { code } => {
                    self.release(|_, _| true, &mut shaped);
                    shaped.push(Output::Exit { code });
                }
                effect @ Output::Effect(_) => shaped.push(effect),
            }
        }
        let now = self.now();
        self.release(|_, at| at <= now, &mut shaped);
        *out = shaped;
    }

    /// One message to `client`, cut and held back as chaos decides.
    fn shape_send(&mut self, client: ClientId, data: Vec<u8>, timed: bool, out: &mut Vec<Output>) {
        let now = self.now();
        let qmp = self
            .state
            .sessions
            .get(&client)
            .is_some_and(|s| s.human.is_none() && s.telnet.is_none());
        let last_held = self
            .state
            .held
            .get(&client)
            .and_then(|q| q.last())
            .map(|h| h.at);
        if !qmp && last_held.is_none() {
            out.push(Output::Send { client, data });
            return;
        }
        let shape = if qmp {
            self.state.machine.chaos_shape(data.len(), timed)
        } else {
            crate::machine::chaos::Shape {
                cuts: Vec::new(),
                first_delay_ns: 0,
                piece_delay_ns: 0,
            }
        };
        let mut at = now
            .plus_ns(shape.first_delay_ns)
            .max(last_held.unwrap_or(now));
        let mut holding = last_held.is_some();
        let mut start = 0;
        let ends = shape
            .cuts
            .iter()
            .copied()
            .chain(std::iter::once(data.len()));
        for (i, end) in ends.enumerate() {
            if i > 0 {
                at = at.plus_ns(shape.piece_delay_ns);
            }
            let piece = data[start..end].to_vec();
            start = end;
            if !holding && at <= now {
                out.push(Output::Send {
                    client,
                    data: piece,
                });
                continue;
            }
            holding = true;
            self.state
                .held
                .entry(client)
                .or_default()
                .push(HeldBytes { at, data: piece });
        }
    }

    /// Sends, in order, the held bytes `leave` lets go (by client and time),
    /// up to the first of each client's that stays.
    fn release(&mut self, leave: impl Fn(ClientId, VirtualTime) -> bool, out: &mut Vec<Output>) {
        for (client, queue) in &mut self.state.held {
            let n = queue.iter().take_while(|h| leave(*client, h.at)).count();
            out.extend(queue.drain(..n).map(|h| Output::Send {
                client: *client,
                data: h.data,
            }));
        }
        self.state.held.retain(|_, q| !q.is_empty());
    }

    /// Records a probe; past [`IMAGE_PROBES_MAX`] names, new ones are dropped
    /// (a known name is always updated).
    fn image_probed(&mut self, path: String, probe: ImageProbe) {
        let probes = &mut self.state.machine.image_probes;
        if probes.len() < IMAGE_PROBES_MAX || probes.contains_key(&path) {
            probes.insert(path, probe);
        }
    }

    /// Takes over the machine of an incoming migration's snapshot.
    fn incoming_state(&mut self, snapshot: &[u8]) {
        match crate::snapshot::restore_state(snapshot) {
            Ok(source) => self.state.machine.incoming_restore(source.machine),
            Err(e) => self.state.machine.incoming_fail(&e.to_string()),
        }
    }

    fn tick(&mut self) {
        let t = self.now().plus_ns(MESSAGE_STEP_NS);
        self.state.machine.advance_to(t);
    }

    fn connect(&mut self, client: ClientId, monitor: u32, out: &mut Vec<Output>) {
        self.tick();
        // A reused id is the edge's mistake; the session it names stays as it is.
        if self.state.sessions.contains_key(&client) {
            return;
        }
        if self.state.sessions.len() >= CLIENTS_MAX {
            self.state.machine.effects.push(Effect::Stderr {
                text: too_many_clients(client),
            });
            return;
        }
        let kind = MonitorKind::of(&self.state.machine.config, monitor);
        let mut session = Session::new(monitor);
        let mut data = Vec::new();
        if kind.telnet {
            session.telnet = Some(Telnet::default());
            if kind.telnet_server {
                data.extend_from_slice(&telnet::NEGOTIATION);
            }
        }
        if kind.human {
            let mut readline = Readline::new();
            readline.prompt_shown();
            session.human = Some(readline);
            data.extend(crate::monitor::to_wire(crate::monitor::BANNER));
            // On a shared port the port has the focus first: no prompt yet.
            if kind.mux {
                session.mux = Some(Mux::default());
            } else {
                data.extend(crate::monitor::to_wire(crate::monitor::PROMPT));
            }
        } else {
            data.extend(message::greeting("").into_bytes());
        }
        self.state.sessions.insert(client, session);
        // The gaps of the byte stream are QMP's (see `crate::machine::placement`).
        let qmp = !kind.human;
        if qmp {
            self.gap(None, out);
        }
        out.push(Output::Send { client, data });
        if qmp {
            self.gap(None, out);
        }
    }

    /// Passes a gap of the byte stream (see `crate::machine::placement`): one
    /// of a connect's (`side` `None`), or a message's on `side` of its reply.
    /// A message's gap is counted once, on the side the placement looks at
    /// (before the reply without one). The configured happening takes place
    /// when the placement takes the gap, and its events are sent at once.
    fn gap(&mut self, side: Option<GapSide>, out: &mut Vec<Output>) {
        let placement = self.state.machine.config.placement;
        let wanted = placement.map_or(GapSide::BeforeReply, |p| p.side);
        if side.is_some_and(|s| s != wanted) {
            return;
        }
        let gap = self.state.gaps;
        self.state.gaps += 1;
        if let Some(p) = placement.filter(|p| p.takes(gap)) {
            self.state.machine.place(p.happening, gap);
            self.broadcast_events(out);
        }
    }

    fn disconnect(&mut self, client: ClientId) {
        self.tick();
        if let Some(session) = self.state.sessions.remove(&client) {
            if let Some(fd) = session.pending_fd {
                self.state
                    .machine
                    .effects
                    .push(Effect::CloseFd { fd: fd.0 });
            }
        }
    }

    fn fd(&mut self, client: ClientId, fd: FdHandle) {
        let Some(session) = self.state.sessions.get_mut(&client) else {
            self.state
                .machine
                .effects
                .push(Effect::CloseFd { fd: fd.0 });
            return;
        };
        if let Some(old) = session.pending_fd.replace(fd) {
            self.state
                .machine
                .effects
                .push(Effect::CloseFd { fd: old.0 });
        }
    }

    fn bytes(&mut self, client: ClientId, data: &[u8], out: &mut Vec<Output>) {
        let plain = self
            .state
            .sessions
            .get(&client)
            .is_some_and(|s| s.human.is_none() && s.telnet.is_none());
        if !plain {
            return self.filtered_bytes(client, data, out);
        }
        // Byte by byte, so that nothing after an exit is consumed: the state then
        // does not depend on how the bytes were split into reads. The bytes that
        // complete no frame are fed without looking the session up again.
        let mut rest = data;
        let mut frames = Vec::new();
        while !rest.is_empty() {
            if self.state.exited.is_some() {
                return;
            }
            let Some(session) = self.state.sessions.get_mut(&client) else {
                return;
            };
            let used = session.framer.feed_until_frame(rest, &mut frames);
            rest = &rest[used..];
            for frame in frames.drain(..) {
                if !self.qmp_frame(client, frame, out) {
                    return;
                }
            }
        }
    }

    /// Bytes of a client on a telnet chardev or a human monitor, one at a
    /// time: through the telnet filter, then the human monitor's line editor
    /// or the QMP framer. The echo of one read goes out as one piece.
    fn filtered_bytes(&mut self, client: ClientId, data: &[u8], out: &mut Vec<Output>) {
        let mut echo = Vec::new();
        let mut frames = Vec::new();
        for &b in data {
            if self.state.exited.is_some() {
                break;
            }
            let Some(session) = self.state.sessions.get_mut(&client) else {
                break;
            };
            let b = match session.telnet.as_mut().map(|t| t.filter(b)) {
                None => b,
                Some(Some(b)) => b,
                Some(None) => continue,
            };
            if session.human.is_some() {
                self.human_byte(client, b, &mut echo, out);
                continue;
            }
            session.framer.feed_until_frame(&[b], &mut frames);
            for frame in frames.drain(..) {
                if !self.qmp_frame(client, frame, out) {
                    break;
                }
            }
        }
        send_bytes(client, &mut echo, out);
    }

    /// Runs one QMP frame of `client`; `false` when the client has no session.
    fn qmp_frame(&mut self, client: ClientId, frame: Frame, out: &mut Vec<Output>) -> bool {
        self.tick();
        let Some(session) = self.state.sessions.get_mut(&client) else {
            return false;
        };
        let replies = dispatch::handle_frame(&mut self.state.machine, session, client, frame);
        // Events queued inside the handler (STOP, RESUME) precede the response,
        // and so do its effects (see the module doc).
        self.broadcast_events(out);
        self.effects_out(out);
        self.gap(Some(GapSide::BeforeReply), out);
        // With -x-chaos: an event or a guest state change may come here.
        self.state.machine.chaos_gap();
        self.broadcast_events(out);
        self.effects_out(out);
        for line in replies.lines {
            out.push(Output::Send {
                client,
                data: line.into_bytes(),
            });
        }
        self.gap(Some(GapSide::AfterReply), out);
        self.state.machine.chaos_disconnect(client.0);
        self.state.machine.scenario_command_done();
        self.state.machine.run_requests();
        self.flush(out);
        true
    }

    /// One byte from a human monitor's client: through the multiplexer when
    /// the monitor shares a port (`crate::monitor::mux`), then the line editor;
    /// a finished line runs. What the client sees collects in `echo`.
    fn human_byte(&mut self, client: ClientId, b: u8, echo: &mut Vec<u8>, out: &mut Vec<Output>) {
        let Some(session) = self.state.sessions.get_mut(&client) else {
            return;
        };
        let action = session.mux.as_mut().map(|m| (m.byte(b), m.monitor_focused));
        let Some(readline) = session.human.as_mut() else {
            return;
        };
        let b = match action {
            None | Some((MuxAction::Byte(_), true)) => b,
            Some((MuxAction::Byte(_) | MuxAction::Nothing, _)) => return,
            Some((MuxAction::Help, _)) => return echo.extend_from_slice(mux::HELP),
            Some((MuxAction::ToMonitor, _)) => {
                readline.restart();
                readline.prompt_shown();
                return echo.extend(crate::monitor::to_wire(crate::monitor::PROMPT));
            }
            // 0.14's monitor prints a newline as it loses the focus.
            Some((MuxAction::ToPort, _)) => return echo.extend(crate::monitor::to_wire("\n")),
            Some((MuxAction::Exit, _)) => {
                echo.extend_from_slice(mux::TERMINATED);
                send_bytes(client, echo, out);
                // 0.14 calls exit(0) at once: no SHUTDOWN event.
                self.state.machine.exit_code.get_or_insert(0);
                return self.flush(out);
            }
        };
        let mut text = String::new();
        let line = readline.byte(b, &mut text);
        echo.extend(crate::monitor::to_wire(&text));
        if let Some(line) = line {
            send_bytes(client, echo, out);
            self.human_line(client, &line, out);
        }
    }

    /// Runs a line a human monitor's client finished, as 0.14's
    /// `monitor_command_cb`: the command's events and effects, its text, then
    /// the prompt, unless the line made the machine exit (`quit`).
    fn human_line(&mut self, client: ClientId, line: &[u8], out: &mut Vec<Output>) {
        self.tick();
        let Some(session) = self.state.sessions.get_mut(&client) else {
            return;
        };
        let mut text = crate::monitor::run_line(&mut self.state.machine, session, client, line);
        self.broadcast_events(out);
        self.effects_out(out);
        self.state.machine.run_requests();
        if self.state.machine.exit_code.is_none() {
            if let Some(readline) = self
                .state
                .sessions
                .get_mut(&client)
                .and_then(|s| s.human.as_mut())
            {
                text.push_str(crate::monitor::PROMPT);
                readline.prompt_shown();
            }
        }
        let mut data = crate::monitor::to_wire(&text);
        send_bytes(client, &mut data, out);
        self.flush(out);
    }

    fn broadcast_events(&mut self, out: &mut Vec<Output>) {
        let epoch_s = self.state.machine.config.epoch_s;
        for event in self.state.machine.events.drain() {
            let ts = timestamp(epoch_s, event.at);
            let line = crate::qmp::events::line(&event, ts);
            for (client, session) in &self.state.sessions {
                if session.mode == Mode::Command && session.human.is_none() {
                    out.push(Output::Send {
                        client: *client,
                        data: line.clone().into_bytes(),
                    });
                }
            }
        }
    }

    /// Carries out the monitor drops an injected fault asked for: each named
    /// client (every client, for `None`) loses its session, and the edge is
    /// told to close its connection. Clients already gone are skipped.
    fn drop_monitors(&mut self, out: &mut Vec<Output>) {
        for target in std::mem::take(&mut self.state.machine.faults.monitor_drops) {
            let clients: Vec<ClientId> = match target {
                Some(client) => vec![ClientId(client)],
                None => self.state.sessions.keys().copied().collect(),
            };
            for client in clients {
                let Some(session) = self.state.sessions.remove(&client) else {
                    continue;
                };
                if let Some(fd) = session.pending_fd {
                    self.state
                        .machine
                        .effects
                        .push(Effect::CloseFd { fd: fd.0 });
                }
                self.effects_out(out);
                out.push(Output::Close { client });
            }
        }
    }

    /// The effects queued so far, as outputs in the order they were queued.
    fn effects_out(&mut self, out: &mut Vec<Output>) {
        out.extend(self.state.machine.effects.drain(..).map(Output::Effect));
    }

    fn flush(&mut self, out: &mut Vec<Output>) {
        self.broadcast_events(out);
        self.effects_out(out);
        // Scenario steps whose event or command came run now; what they send
        // may make more steps due (each runs once, so this ends).
        while self.state.machine.scenario_run_due() {
            self.state.machine.run_requests();
            self.broadcast_events(out);
            self.effects_out(out);
        }
        self.drop_monitors(out);
        if let (Some(code), None) = (self.state.machine.exit_code, self.state.exited) {
            self.state.exited = Some(code);
            out.push(Output::Exit { code });
        }
    }
}

/// Sends `data` (if any) to `client`, and empties it.
fn send_bytes(client: ClientId, data: &mut Vec<u8>, out: &mut Vec<Output>) {
    if !data.is_empty() {
        out.push(Output::Send {
            client,
            data: std::mem::take(data),
        });
    }
}

/// What a monitor's chardev makes of a connection.
#[derive(Debug, Clone, Copy, Default)]
struct MonitorKind {
    /// A human (`mode=readline`) monitor rather than QMP.
    human: bool,
    /// A telnet socket: the client's IAC commands are filtered out.
    telnet: bool,
    /// A listening telnet socket: the client is sent 0.14's negotiation first.
    telnet_server: bool,
    /// A human monitor sharing a serial or parallel port (`mon:`).
    mux: bool,
}

impl MonitorKind {
    /// The kind of monitor `index` of `config`; a monitor the config does not
    /// list is a plain QMP one.
    fn of(config: &MachineConfig, index: u32) -> Self {
        let Some(monitor) = usize::try_from(index)
            .ok()
            .and_then(|i| config.monitors.get(i))
        else {
            return MonitorKind::default();
        };
        let backend = config
            .chardevs
            .iter()
            .find(|c| c.label == monitor.chardev)
            .map(|c| &c.backend);
        let (telnet, server) = match backend {
            Some(ChardevBackend::Tcp { telnet, server, .. }) => (*telnet, *server),
            _ => (false, false),
        };
        let human = monitor.mode == MonitorMode::Readline;
        MonitorKind {
            human,
            telnet,
            telnet_server: telnet && server,
            mux: human && crate::monitor::mux::is_port_label(&monitor.chardev),
        }
    }
}

/// The diagnostic for a client refused past [`CLIENTS_MAX`].
pub fn too_many_clients(client: ClientId) -> String {
    format!(
        "qmpsim: too many clients (limit {CLIENTS_MAX}); closing client {}\n",
        client.0
    )
}

/// An event timestamp: the configured epoch plus virtual time.
pub fn timestamp(epoch_s: i64, at: VirtualTime) -> Timestamp {
    let secs = i64::try_from(at.0 / VirtualTime::NS_PER_S).unwrap_or(i64::MAX);
    let micros = i64::try_from((at.0 % VirtualTime::NS_PER_S) / 1000).unwrap_or(0);
    Timestamp {
        seconds: epoch_s.saturating_add(secs),
        microseconds: micros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::ImageInfo;

    fn sent(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { data, .. } => {
                    Some(String::from_utf8_lossy(data).trim_end().to_owned())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn signal_names_read_back() {
        for signal in Signal::ALL {
            assert_eq!(Signal::from_name(signal.name()), Some(signal));
        }
        assert_eq!(Signal::from_name("KILL"), None);
    }

    #[test]
    fn step_ref_gives_what_step_gives() {
        let inputs = [
            Input::connect(ClientId(1)),
            Input::bytes(
                ClientId(1),
                br#"{"execute":"qmp_capabilities"}{"execute":"stop"}"#,
            ),
            Input::bytes(ClientId(1), br#"{"execute":"quit"}{"execute":"cont"}"#),
        ];
        let mut by_value = Engine::new(MachineConfig::default());
        let mut by_ref = Engine::new(MachineConfig::default());
        for input in inputs {
            assert_eq!(by_ref.step_ref(&input), by_value.step(input));
        }
        assert_eq!(by_ref.digest(), by_value.digest());
    }

    /// Connects client 1 and sends `qmp_capabilities`: the reply's outputs.
    fn negotiate(e: &mut Engine) -> Vec<Output> {
        e.step(Input::connect(ClientId(1)));
        e.step(Input::bytes(
            ClientId(1),
            br#"{"execute":"qmp_capabilities"}"#,
        ))
    }

    fn negotiated() -> Engine {
        let mut e = Engine::new(MachineConfig::default());
        negotiate(&mut e);
        e
    }

    #[test]
    fn connect_sends_greeting() {
        let mut e = Engine::new(MachineConfig::default());
        let out = e.step(Input::connect(ClientId(1)));
        assert_eq!(
            sent(&out),
            [
                r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 14, "major": 0}, "package": ""}, "capabilities": []}}"#
            ]
        );
    }

    #[test]
    fn stop_event_precedes_return() {
        let mut e = negotiated();
        let out = e.step(Input::bytes(ClientId(1), br#"{"execute":"stop"}"#));
        assert_eq!(
            sent(&out),
            [
                r#"{"timestamp": {"seconds": 1300000000, "microseconds": 3000}, "event": "STOP"}"#,
                r#"{"return": {}}"#
            ]
        );
    }

    #[test]
    fn quit_returns_then_shutdown_then_exit() {
        let mut e = negotiated();
        let out = e.step(Input::bytes(ClientId(1), br#"{"execute":"quit"}"#));
        assert_eq!(sent(&out)[0], r#"{"return": {}}"#);
        assert!(sent(&out)[1].contains(r#""event": "SHUTDOWN""#));
        assert_eq!(out.last(), Some(&Output::Exit { code: 0 }));
    }

    #[test]
    fn memsave_write_precedes_its_reply() {
        let mut e = negotiated();
        let out = e.step(Input::bytes(
            ClientId(1),
            br#"{"execute":"memsave","arguments":{"val":0,"size":16,"filename":"m"}}"#,
        ));
        let write = out
            .iter()
            .position(|o| matches!(o, Output::Effect(Effect::WriteFile { .. })));
        let reply = out.iter().position(|o| matches!(o, Output::Send { .. }));
        assert_eq!((write, reply), (Some(0), Some(1)));
    }

    #[test]
    fn split_reads_give_same_bytes_and_digest() {
        let script = br#"{"execute":"stop"} {"execute":"cont","id":1}"#;
        let mut whole = negotiated();
        let a = whole.step(Input::bytes(ClientId(1), script));
        let mut split = negotiated();
        let b: Vec<Output> = script
            .iter()
            .flat_map(|b| split.step(Input::bytes(ClientId(1), [*b])))
            .collect();
        assert_eq!(a, b);
        assert_eq!(whole.digest(), split.digest());
    }

    #[test]
    fn events_skip_clients_in_negotiation() {
        let mut e = negotiated();
        e.step(Input::connect(ClientId(2)));
        let out = e.step(Input::bytes(ClientId(1), br#"{"execute":"stop"}"#));
        assert!(out.iter().all(|o| !matches!(
            o,
            Output::Send {
                client: ClientId(2),
                ..
            }
        )));
    }

    /// An engine after `n` probes of distinct files `img0`, `img1`, ...
    fn probed(n: usize) -> Engine {
        let mut e = Engine::new(MachineConfig::default());
        (0..n).for_each(|i| {
            e.step(Input::ImageProbed {
                path: format!("img{i}"),
                probe: ImageProbe::Missing,
            });
        });
        e
    }

    #[test]
    fn image_probe_reaching_limit_is_kept() {
        let e = probed(IMAGE_PROBES_MAX);
        let last = format!("img{}", IMAGE_PROBES_MAX - 1);
        assert!(e.machine().image_probes.contains_key(&last));
    }

    #[test]
    fn image_probe_past_limit_is_dropped() {
        let e = probed(IMAGE_PROBES_MAX + 1);
        let past = format!("img{IMAGE_PROBES_MAX}");
        assert!(!e.machine().image_probes.contains_key(&past));
    }

    #[test]
    fn image_probe_past_limit_keeps_the_count_at_limit() {
        let e = probed(IMAGE_PROBES_MAX + 1);
        assert_eq!(e.machine().image_probes.len(), IMAGE_PROBES_MAX);
    }

    #[test]
    fn image_probe_of_known_name_at_limit_is_updated() {
        let mut e = probed(IMAGE_PROBES_MAX);
        let probe = ImageProbe::Found(ImageInfo {
            format: "raw".to_owned(),
            size_bytes: 512,
            backing_file: None,
            encrypted: false,
        });
        e.step(Input::ImageProbed {
            path: "img0".to_owned(),
            probe: probe.clone(),
        });
        assert_eq!(e.machine().image_probes.get("img0"), Some(&probe));
    }

    /// The `n`th client's id (ids count from 1).
    fn nth_client(n: usize) -> ClientId {
        ClientId(u32::try_from(n).expect("test client counts fit in u32"))
    }

    /// An engine with clients 1..=n connected (greetings discarded).
    fn with_clients(n: usize) -> Engine {
        let mut e = Engine::new(MachineConfig::default());
        (1..=n).for_each(|i| {
            e.step(Input::connect(nth_client(i)));
        });
        e
    }

    #[test]
    fn connect_reaching_client_limit_sends_greeting() {
        let mut e = with_clients(CLIENTS_MAX - 1);
        let out = e.step(Input::connect(nth_client(CLIENTS_MAX)));
        assert!(sent(&out)[0].starts_with(r#"{"QMP": "#));
    }

    #[test]
    fn connect_past_client_limit_only_reports_on_stderr() {
        let mut e = with_clients(CLIENTS_MAX);
        let past = nth_client(CLIENTS_MAX + 1);
        let out = e.step(Input::connect(past));
        assert_eq!(
            out,
            [Output::Effect(Effect::Stderr {
                text: "qmpsim: too many clients (limit 64); closing client 65\n".to_owned()
            })]
        );
    }

    #[test]
    fn connect_past_client_limit_keeps_no_session() {
        let mut e = with_clients(CLIENTS_MAX);
        let past = nth_client(CLIENTS_MAX + 1);
        e.step(Input::connect(past));
        assert!(!e.state().sessions.contains_key(&past));
    }

    #[test]
    fn bytes_from_client_refused_past_limit_get_no_reply() {
        let mut e = with_clients(CLIENTS_MAX);
        let past = nth_client(CLIENTS_MAX + 1);
        e.step(Input::connect(past));
        let out = e.step(Input::bytes(past, br#"{"execute":"qmp_capabilities"}"#));
        assert_eq!(out, []);
    }

    #[test]
    fn connect_after_a_disconnect_at_client_limit_is_greeted() {
        let mut e = with_clients(CLIENTS_MAX);
        e.step(Input::Disconnect {
            client: ClientId(1),
        });
        let out = e.step(Input::connect(nth_client(CLIENTS_MAX + 1)));
        assert!(sent(&out)[0].starts_with(r#"{"QMP": "#));
    }

    #[test]
    fn connect_with_id_in_use_keeps_the_session_and_says_nothing() {
        let mut e = negotiated();
        let out = e.step(Input::connect(ClientId(1)));
        assert_eq!(
            (out, e.state().sessions[&ClientId(1)].mode),
            (vec![], Mode::Command)
        );
    }

    #[test]
    fn next_deadline_ignores_background_ticks_of_a_running_guest() {
        let e = negotiated();
        assert_eq!(e.next_deadline(), None);
    }

    #[test]
    fn next_deadline_after_powerdown_is_the_guest_shutdown() {
        let mut e = negotiated();
        e.step(Input::bytes(
            ClientId(1),
            br#"{"execute":"system_powerdown"}"#,
        ));
        let at = e
            .next_deadline()
            .expect("the guest's ACPI shutdown is pending");
        // Checked first: a deadline far away would take for ever to reach.
        use crate::machine::devices::guest::{
            GUEST_ACPI_SHUTDOWN_JITTER_NS, GUEST_ACPI_SHUTDOWN_NS,
        };
        assert!(at.0 <= GUEST_ACPI_SHUTDOWN_NS + GUEST_ACPI_SHUTDOWN_JITTER_NS);
        let out = e.step(Input::AdvanceTo { at });
        assert!(sent(&out)
            .iter()
            .any(|l| l.contains(r#""event": "SHUTDOWN""#)));
    }

    /// An engine whose configuration places `arg` (`-x-explore-gap` syntax).
    fn placed(arg: &str) -> Engine {
        Engine::new(MachineConfig {
            placement: Some(crate::machine::placement::Placement::parse(arg).unwrap()),
            ..MachineConfig::default()
        })
    }

    #[test]
    fn gaps_count_two_per_connect_and_one_per_message() {
        let e = negotiated();
        assert_eq!(e.state().gaps, 3);
    }

    #[test]
    fn placement_at_capabilities_gap_sends_the_event_before_or_after_the_reply() {
        let stop =
            r#"{"timestamp": {"seconds": 1300000000, "microseconds": 2000}, "event": "STOP"}"#;
        let rtc = r#"{"timestamp": {"seconds": 1300000000, "microseconds": 2000}, "event": "RTC_CHANGE", "data": {"offset": 1}}"#;
        let reply = r#"{"return": {}}"#;
        for (arg, want) in [
            ("2,event=STOP", [stop, reply]),
            ("2,event=RTC_CHANGE,when=after", [reply, rtc]),
        ] {
            assert_eq!(sent(&negotiate(&mut placed(arg))), want, "{arg}");
        }
    }

    #[test]
    fn placement_before_greeting_changes_state_but_sends_no_event() {
        let mut e = placed("0,event=STOP");
        let out = e.step(Input::connect(ClientId(1)));
        assert_eq!(
            (sent(&out).len(), e.machine().run_state),
            (1, crate::machine::RunState::Paused)
        );
    }

    #[test]
    fn placement_every_gap_precedes_every_reply() {
        let mut e = placed("every,event=RTC_CHANGE");
        e.step(Input::connect(ClientId(1)));
        let out = e.step(Input::bytes(
            ClientId(1),
            br#"{"execute":"qmp_capabilities"} {"execute":"query-name"}"#,
        ));
        let kinds: Vec<bool> = sent(&out).iter().map(|l| l.contains("event")).collect();
        assert_eq!(kinds, [true, false, true, false]);
    }

    /// A negotiated engine under `-x-chaos ARG` (`-x-clock manual` when
    /// `manual`).
    fn chaotic(arg: &str, manual: bool) -> Engine {
        let clock = if manual {
            crate::machine::clock::ClockMode::Manual
        } else {
            crate::machine::clock::ClockMode::Idle
        };
        let mut e = Engine::new(MachineConfig {
            chaos: Some(crate::machine::chaos::ChaosConfig::parse(arg).unwrap()),
            clock,
            ..MachineConfig::default()
        });
        negotiate(&mut e);
        // What chaos held back of the greeting and the first reply leaves.
        drain(&mut e);
        e
    }

    /// Lets virtual time pass to each pending deadline until none is left;
    /// returns the outputs.
    fn drain(e: &mut Engine) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(at) = e.next_deadline() {
            out.extend(e.step(Input::AdvanceTo { at }));
        }
        out
    }

    const QUERY_NAME: &[u8] = br#"{"execute":"query-name"}"#;

    #[test]
    fn chaos_split_with_manual_clock_sends_every_piece_at_once() {
        let mut e = chaotic("seed=1,rate=1,kinds=split", true);
        let out = e.step(Input::bytes(ClientId(1), QUERY_NAME));
        assert_eq!(
            (out.len() > 1, sent_bytes(&out)),
            (true, b"{\"return\": {}}\r\n".to_vec())
        );
    }

    #[test]
    fn chaos_delay_holds_the_reply_until_its_deadline() {
        let mut e = chaotic("seed=1,rate=1,kinds=delay", false);
        let out = e.step(Input::bytes(ClientId(1), QUERY_NAME));
        let at = e.next_deadline().expect("the held reply's time");
        let released = e.step(Input::AdvanceTo { at });
        assert_eq!(
            (sent_bytes(&out), sent_bytes(&released)),
            (Vec::new(), b"{\"return\": {}}\r\n".to_vec())
        );
    }

    #[test]
    fn chaos_held_bytes_leave_before_a_later_message() {
        let mut e = chaotic("seed=3,rate=1,kinds=delay", false);
        e.step(Input::bytes(ClientId(1), QUERY_NAME));
        let mut all = e.step(Input::bytes(ClientId(1), br#"{"execute":"query-kvm"}"#));
        all.extend(drain(&mut e));
        let text = String::from_utf8(sent_bytes(&all)).unwrap();
        assert!(
            text.starts_with("{\"return\": {}}\r\n{\"return\": {\"enabled\""),
            "{text}"
        );
    }

    #[test]
    fn chaos_disconnect_closes_after_the_reply() {
        let mut e = Engine::new(MachineConfig {
            chaos: Some(
                crate::machine::chaos::ChaosConfig::parse("seed=1,rate=1,kinds=disconnect")
                    .unwrap(),
            ),
            ..MachineConfig::default()
        });
        let out = negotiate(&mut e);
        assert_eq!(
            out,
            [
                Output::Send {
                    client: ClientId(1),
                    data: b"{\"return\": {}}\r\n".to_vec()
                },
                Output::Close {
                    client: ClientId(1)
                }
            ]
        );
    }

    #[test]
    fn different_inputs_give_different_digest() {
        let mut a = negotiated();
        let b = negotiated();
        a.step(Input::bytes(ClientId(1), br#"{"execute":"stop"}"#));
        assert_ne!(a.digest(), b.digest());
    }
}
