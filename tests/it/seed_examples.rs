//! seed_examples: every example of QEMU 0.14's `qmp-commands.hx` (copied to
//! `tests/data/qmp-commands-0.14.hx`, byte-identical to the seed) runs against a
//! machine configured to give it meaning, and the response is compared with the
//! document's.
//!
//! The extractor takes every `-> ` request and its `<- ` response inside the
//! `SQMP`/`EQMP` sections; a request or response continues over the following
//! lines until its brackets balance. 52 requests are found; 50 of them have a
//! request and a response that QEMU 0.14's own parser (`qmpsim::wire`) reads as
//! one JSON value each. The two that do not are the notation legend
//! (`-> data issued by the Client`) and `query-spice`, whose response contains
//! `[ ... more channels follow ... ]`.
//!
//! How a response is compared depends on how the document's example was made
//! (the project's QMP 0.14 facts reference, §0, names the machine-generated
//! ones: query-block, query-blockstats, query-pci):
//! - [`Compare::Exact`]: the example is what 0.14 prints. The document's text,
//!   re-spaced to 0.14's single-line format (`": "` after keys, `", "` between
//!   members), must equal the bytes we send. This checks key order too.
//! - [`Compare::OrderedShape`]: machine-generated, but the values come from a real
//!   guest (I/O counters): same keys in the same order, same JSON types.
//! - [`Compare::SameValue`]: hand-ordered in the document: equal as JSON values,
//!   member order ignored.
//! - [`Compare::SameValueWithout`]: as `SameValue` after dropping optional
//!   members the document shows but 0.14 never produces.
//! - [`Compare::Shape`]: hand-ordered, and the values depend on the host (ports,
//!   program counters, progress): same keys and JSON types, order ignored.
//! - [`Compare::ShapeEmptying`]: as `Shape` after emptying the document's lists
//!   under the named members, for what qmpsim does not model (VNC clients, see
//!   `docs/compat.md`).
//! - [`Compare::Pruned`]: the document says the example "has been shortened": the
//!   lists under the named keys may be missing elements; every element shown must
//!   appear in ours exactly (key order included), in the same order when
//!   `ordered`. Everything else must match exactly.
//!
//! Each row of the table says why it is not `Exact`. Nothing is skipped: an
//! example whose command is missing or answers differently fails its test.

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::{
    ChardevBackend, ChardevConfig, DriveConfig, ImageInfo, ImageProbe, MachineConfig,
    MonitorConfig, MonitorMode,
};
use qmpsim::machine::Effect;
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::wire::framing::{Frame, Framer};
use qmpsim::wire::{parser, QObject};

use crate::support::{balloon_virtio, ext_vnc, kvm, opts, spice, vnc};

/// The seed document.
const SEED_HX: &str = include_str!("../data/qmp-commands-0.14.hx");
/// `-> ` requests inside `SQMP` sections.
const EXAMPLES_TOTAL: usize = 52;
/// Examples whose request and response both parse.
const EXAMPLES_PARSEABLE: usize = 50;
/// The client every example uses.
const CLIENT: ClientId = ClientId(1);
/// The descriptor handle passed before `getfd`.
const PASSED_FD: FdHandle = FdHandle(7);
/// Most times virtual time is let run to the next deadline by one `Step::Idle`
/// before the run is considered stuck.
const IDLE_ADVANCES_MAX: usize = 10_000;

// ---------------------------------------------------------------------------
// Extraction

/// One example of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Example {
    /// 1-based line of the `-> ` in the document.
    line: usize,
    /// The request text, line breaks kept.
    request: String,
    /// The response text, line breaks kept (empty when there is none).
    response: String,
}

impl Example {
    /// The `execute` member of the request, when it parses.
    fn command(&self) -> Option<String> {
        let request = parse_one(&self.request)?;
        Some(request.as_dict()?.get_str("execute")?.to_owned())
    }

    /// Whether request and response both parse as one JSON value.
    fn parseable(&self) -> bool {
        parse_one(&self.request).is_some() && parse_one(&self.response).is_some()
    }
}

/// Which part of an example the extractor is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Request,
    Response,
}

/// Every `-> ` example inside `SQMP`/`EQMP` sections, in document order.
fn extract(hx: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut in_section = false;
    let mut open: Option<Part> = None;
    for (index, line) in hx.lines().enumerate() {
        if line.starts_with("SQMP") || line.starts_with("EQMP") {
            in_section = line.starts_with("SQMP");
            open = None;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(text) = line.strip_prefix("-> ") {
            examples.push(Example {
                line: index + 1,
                request: text.to_owned(),
                response: String::new(),
            });
            open = Some(Part::Request);
        } else if let (Some(text), Some(last)) = (line.strip_prefix("<- "), examples.last_mut()) {
            last.response = text.to_owned();
            open = Some(Part::Response);
        } else if let (Some(part), Some(last)) = (open, examples.last_mut()) {
            let text = match part {
                Part::Request => &mut last.request,
                Part::Response => &mut last.response,
            };
            text.push('\n');
            text.push_str(line);
        }
        open = open.filter(|part| {
            let last = examples
                .last()
                .expect("a part is open only after a request");
            let text = match part {
                Part::Request => &last.request,
                Part::Response => &last.response,
            };
            !balanced(text)
        });
    }
    examples
}

/// Each character of JSON `text`, with whether it belongs to a double-quoted
/// string (its quotes included).
fn in_strings(text: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    text.chars().map(move |c| {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            (c, true)
        } else {
            in_string = c == '"';
            (c, in_string)
        }
    })
}

/// Whether `text` opened at least one bracket and closed all it opened, counting
/// outside double-quoted strings only.
fn balanced(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut opened = false;
    for (c, _) in in_strings(text).filter(|&(_, quoted)| !quoted) {
        match c {
            '{' | '[' => {
                depth += 1;
                opened = true;
            }
            '}' | ']' => depth -= 1,
            _ => {}
        }
    }
    opened && depth <= 0
}

/// Parses `text` with 0.14's lexer and parser; `None` unless it is exactly one
/// JSON value.
fn parse_one(text: &str) -> Option<QObject> {
    let mut framer = Framer::new();
    let mut frames = framer.feed(text.as_bytes());
    frames.extend(framer.feed(b"\n"));
    match frames.as_slice() {
        [Frame::Message(tokens)] if !framer.is_mid_message() => parser::parse(tokens).ok(),
        _ => None,
    }
}

/// The document's text in 0.14's single-line format: whitespace outside strings
/// dropped, then `": "` after each key and `", "` between members and elements.
fn respace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (c, quoted) in in_strings(text) {
        match c {
            _ if quoted => out.push(c),
            ':' | ',' => {
                out.push(c);
                out.push(' ');
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Comparison

/// How a response is compared with the document (see the module doc).
#[derive(Debug, Clone, Copy)]
enum Compare {
    Exact,
    OrderedShape,
    SameValue,
    SameValueWithout(&'static [&'static str]),
    Shape,
    ShapeEmptying(&'static [&'static str]),
    Pruned {
        lists: &'static [&'static str],
        ordered: bool,
    },
}

/// `Ok` when `ours` (the bytes sent, without `\r\n`) matches the document's
/// response under `compare`; otherwise what differs.
fn compare_response(compare: Compare, doc_text: &str, ours: &str) -> Result<(), String> {
    if let Compare::Exact = compare {
        let expected = respace(doc_text);
        return if ours == expected {
            Ok(())
        } else {
            Err(format!("expected {expected}\n     got {ours}"))
        };
    }
    let doc = parse_one(doc_text).expect("only parseable examples are compared");
    let got = parse_one(ours).ok_or_else(|| format!("our response does not parse: {ours}"))?;
    let matched = match compare {
        Compare::Exact => unreachable!("handled above"),
        Compare::OrderedShape => same_shape(&doc, &got, true),
        Compare::SameValue => same_value(&doc, &got),
        Compare::SameValueWithout(keys) => same_value(&without(&doc, keys), &got),
        Compare::Shape => same_shape(&doc, &got, false),
        Compare::ShapeEmptying(lists) => same_shape(&emptying(&doc, lists), &got, false),
        Compare::Pruned { lists, ordered } => pruned_match(&doc, &got, lists, ordered),
    };
    if matched {
        Ok(())
    } else {
        Err(format!(
            "{compare:?} mismatch\n     doc {}\n     got {ours}",
            respace(doc_text)
        ))
    }
}

/// Keys of a dict in the order they were written.
fn keys(d: &qmpsim::wire::QDict) -> Vec<&str> {
    d.iter_inserted().map(|(k, _)| k).collect()
}

/// Equal as JSON values; member order ignored.
fn same_value(a: &QObject, b: &QObject) -> bool {
    match (a, b) {
        (QObject::Dict(x), QObject::Dict(y)) => {
            x.len() == y.len()
                && x.iter_inserted()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        (QObject::List(x), QObject::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w))
        }
        _ => a == b,
    }
}

/// Same keys (in the same order when `ordered`), same list lengths, same JSON
/// types at every leaf; values ignored.
fn same_shape(a: &QObject, b: &QObject, ordered: bool) -> bool {
    match (a, b) {
        (QObject::Dict(x), QObject::Dict(y)) => {
            let same_keys = if ordered {
                keys(x) == keys(y)
            } else {
                x.len() == y.len() && keys(x).iter().all(|k| y.contains_key(k))
            };
            same_keys
                && x.iter_inserted()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_shape(v, w, ordered)))
        }
        (QObject::List(x), QObject::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_shape(v, w, ordered))
        }
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// `doc` without the members named in `drop`, at any depth.
fn without(doc: &QObject, drop: &[&str]) -> QObject {
    match doc {
        QObject::Dict(d) => {
            let mut out = qmpsim::wire::QDict::new();
            for (k, v) in d.iter_inserted().filter(|(k, _)| !drop.contains(k)) {
                out.put(k, without(v, drop));
            }
            QObject::Dict(out)
        }
        QObject::List(l) => QObject::List(l.iter().map(|v| without(v, drop)).collect()),
        other => other.clone(),
    }
}

/// `doc` with the lists under the members named in `lists` emptied, at any depth.
fn emptying(doc: &QObject, lists: &[&str]) -> QObject {
    match doc {
        QObject::Dict(d) => {
            let mut out = qmpsim::wire::QDict::new();
            for (k, v) in d.iter_inserted() {
                if lists.contains(&k) && v.as_list().is_some() {
                    out.put(k, QObject::List(Vec::new()));
                } else {
                    out.put(k, emptying(v, lists));
                }
            }
            QObject::Dict(out)
        }
        QObject::List(l) => QObject::List(l.iter().map(|v| emptying(v, lists)).collect()),
        other => other.clone(),
    }
}

/// Exact match (keys in order, values equal), except that a list under one of
/// `lists` may have lost elements in the document: each element shown must match
/// one of ours, in order when `ordered`.
fn pruned_match(doc: &QObject, got: &QObject, lists: &[&str], ordered: bool) -> bool {
    pruned_at(doc, got, lists, ordered, false)
}

fn pruned_at(doc: &QObject, got: &QObject, lists: &[&str], ordered: bool, shortened: bool) -> bool {
    match (doc, got) {
        (QObject::Dict(x), QObject::Dict(y)) => {
            keys(x) == keys(y)
                && x.iter_inserted().all(|(k, v)| {
                    y.get(k)
                        .is_some_and(|w| pruned_at(v, w, lists, ordered, lists.contains(&k)))
                })
        }
        (QObject::List(x), QObject::List(y)) if shortened => {
            let matches = |v: &QObject, w: &QObject| pruned_at(v, w, lists, ordered, false);
            if ordered {
                let mut rest = y.iter();
                x.iter().all(|v| rest.any(|w| matches(v, w)))
            } else {
                x.iter().all(|v| y.iter().any(|w| matches(v, w)))
            }
        }
        (QObject::List(x), QObject::List(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(v, w)| pruned_at(v, w, lists, ordered, false))
        }
        _ => doc == got,
    }
}

// ---------------------------------------------------------------------------
// Running

/// What happens before the example's request.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A client line; its response must not be an error.
    Line(&'static str),
    /// A descriptor arrives with the next bytes.
    Fd,
    /// Virtual time runs from deadline to deadline until a message sent to the
    /// client contains this text.
    IdleUntil(&'static str),
    /// The edge reports that the last migration's channel broke.
    MigrationBroken,
    /// The edge probed an unencrypted image file without a backing file that the
    /// next request names (as it does for `change`).
    Probed {
        /// The file name as the client gives it.
        path: &'static str,
        /// Its format.
        format: &'static str,
        /// Its virtual size.
        size_bytes: u64,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// Test name (also the row's key).
    test: &'static str,
    /// `execute` of the example.
    command: &'static str,
    /// Which example of that command, 0-based, in document order.
    nth: usize,
    /// The machine that gives the example meaning.
    config: fn() -> MachineConfig,
    /// Whether the client negotiates capabilities first.
    negotiate: bool,
    /// Requests and events before the example.
    setup: &'static [Step],
    /// How the response is compared.
    compare: Compare,
    /// Why the comparison is not `Exact` (empty when it is).
    reason: &'static str,
}

/// Messages sent to the client, as text without `\r\n`.
fn sent(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { client, data } if *client == CLIENT => {
                Some(String::from_utf8_lossy(data).trim_end().to_owned())
            }
            _ => None,
        })
        .collect()
}

fn is_event(message: &str) -> bool {
    parse_one(message)
        .and_then(|m| m.as_dict().map(|d| d.contains_key("event")))
        .unwrap_or(false)
}

fn is_error(message: &str) -> bool {
    parse_one(message)
        .and_then(|m| m.as_dict().map(|d| d.contains_key("error")))
        .unwrap_or(false)
}

fn bytes(text: &str) -> Input {
    Input::bytes(CLIENT, text)
}

/// An engine with one client, remembering the last migration the edge was asked
/// to start.
#[derive(Debug)]
struct Runner {
    engine: Engine,
    migration_id: Option<u64>,
}

impl Runner {
    fn new(config: MachineConfig) -> Self {
        let mut runner = Runner {
            engine: Engine::new(config),
            migration_id: None,
        };
        runner.step(Input::connect(CLIENT));
        runner
    }

    /// Steps the engine; returns the messages sent to the client.
    fn step(&mut self, input: Input) -> Vec<String> {
        let outputs = self.engine.step(input);
        for output in &outputs {
            if let Output::Effect(Effect::MigrationStart { id, .. }) = output {
                self.migration_id = Some(*id);
            }
        }
        sent(&outputs)
    }

    /// Runs the setup, failing on any error response.
    fn setup(&mut self, setup: &[Step]) -> Result<(), String> {
        for step in setup {
            match *step {
                Step::Line(line) => {
                    let replies = self.step(bytes(line));
                    if let Some(bad) = replies.iter().find(|m| is_error(m)) {
                        return Err(format!("setup {line} failed: {bad}"));
                    }
                }
                Step::Fd => {
                    self.step(Input::Fd {
                        client: CLIENT,
                        fd: PASSED_FD,
                    });
                }
                Step::IdleUntil(marker) => self.idle_until(marker)?,
                Step::MigrationBroken => {
                    let id = self.migration_id.ok_or("setup: no migration was started")?;
                    self.step(Input::MigrationFailed { id });
                }
                Step::Probed {
                    path,
                    format,
                    size_bytes,
                } => {
                    let probe = image(format, size_bytes, false).expect("image gives a probe");
                    self.step(Input::ImageProbed {
                        path: path.to_owned(),
                        probe,
                    });
                }
            }
        }
        Ok(())
    }

    fn idle_until(&mut self, marker: &str) -> Result<(), String> {
        for _ in 0..IDLE_ADVANCES_MAX {
            let at = self
                .engine
                .next_deadline()
                .ok_or_else(|| format!("setup: no deadline left and no {marker} seen"))?;
            if self
                .step(Input::AdvanceTo { at })
                .iter()
                .any(|m| m.contains(marker))
            {
                return Ok(());
            }
        }
        Err(format!(
            "setup: {marker} not seen after {IDLE_ADVANCES_MAX} deadlines"
        ))
    }
}

/// Runs a case and returns the one response (not event) to the example's request.
fn respond(case: &Case, example: &Example) -> Result<String, String> {
    let mut runner = Runner::new((case.config)());
    if case.negotiate {
        runner.step(bytes(r#"{"execute":"qmp_capabilities"}"#));
    }
    runner.setup(case.setup)?;
    let replies: Vec<String> = runner
        .step(bytes(&example.request))
        .into_iter()
        .filter(|m| !is_event(m))
        .collect();
    match replies.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("expected one response, got {replies:?}")),
    }
}

/// Every parseable example with its command and its 0-based rank among that
/// command's examples.
fn parseable_examples() -> Vec<(String, usize, Example)> {
    let mut out: Vec<(String, usize, Example)> = Vec::new();
    for example in extract(SEED_HX).into_iter().filter(Example::parseable) {
        let command = example.command().expect("parseable requests have execute");
        let nth = out.iter().filter(|(c, _, _)| *c == command).count();
        out.push((command, nth, example));
    }
    out
}

/// Runs the table row named `test` and panics with the difference.
fn check(test: &str) {
    let case = CASES
        .iter()
        .find(|c| c.test == test)
        .unwrap_or_else(|| panic!("no table row {test}"));
    let (_, _, example) = parseable_examples()
        .into_iter()
        .find(|(c, n, _)| c == case.command && *n == case.nth)
        .unwrap_or_else(|| panic!("no example {} #{}", case.command, case.nth));
    let outcome = respond(case, &example)
        .and_then(|ours| compare_response(case.compare, &example.response, &ours));
    if let Err(why) = outcome {
        panic!(
            "qmp-commands.hx line {}: {} #{} ({:?}{}{})\n  request {}\n  {why}",
            example.line,
            case.command,
            case.nth,
            case.compare,
            if case.reason.is_empty() { "" } else { ": " },
            case.reason,
            respace(&example.request),
        );
    }
}

// ---------------------------------------------------------------------------
// Machines

fn image(format: &str, size_bytes: u64, encrypted: bool) -> Option<ImageProbe> {
    Some(ImageProbe::Found(ImageInfo {
        format: format.to_owned(),
        size_bytes,
        backing_file: None,
        encrypted,
    }))
}

/// `-hda FILE` as the CLI expands it.
fn hda(file: &str, probe: Option<ImageProbe>) -> DriveConfig {
    DriveConfig {
        opts: opts(&[
            ("file", file),
            ("index", "0"),
            ("media", "disk"),
            ("if", "ide"),
        ]),
        probe,
    }
}

const GIB_BYTES: u64 = 1 << 30;
/// Size of the Fedora 12 x86_64 DVD image `change` loads (3.4 GiB).
const DVD_BYTES: u64 = 3_625_017_344;

/// The default `pc` machine.
fn pc() -> MachineConfig {
    MachineConfig::default()
}

/// `-smp 2`.
fn smp2() -> MachineConfig {
    MachineConfig { smp: 2, ..pc() }
}

/// `-name qemu-name`.
fn named() -> MachineConfig {
    MachineConfig {
        name: Some("qemu-name".to_owned()),
        ..pc()
    }
}

/// `-uuid 550e8400-e29b-41d4-a716-446655440000`.
fn with_uuid() -> MachineConfig {
    MachineConfig {
        uuid: Some("550e8400-e29b-41d4-a716-446655440000".to_owned()),
        ..pc()
    }
}

/// `-vnc 0.0.0.0:0,password`.
fn vnc_password() -> MachineConfig {
    vnc("0.0.0.0:0,password")
}

/// The document's VNC server: port 50402 (display 44502) with password auth, and
/// `-x-extensions` for the `x-vnc-client` that stands in for its client.
fn vnc_doc() -> MachineConfig {
    ext_vnc("0.0.0.0:44502,password")
}

/// `-spice port=5920,tls-port=5921` (the ports of the document's query-spice).
fn spice_doc() -> MachineConfig {
    spice(&[("port", "5920"), ("tls-port", "5921")])
}

/// `-m 1024 -balloon virtio`.
fn balloon() -> MachineConfig {
    MachineConfig {
        ram_mb: 1024,
        ..balloon_virtio()
    }
}

/// `-hda disks/test.img` where the image is a 1 GiB qcow2 (query-block's
/// example).
fn qcow2_hda() -> MachineConfig {
    MachineConfig {
        drives: vec![hda("disks/test.img", image("qcow2", GIB_BYTES, false))],
        ..pc()
    }
}

/// `-hda disk.qcow2` where the image is encrypted.
fn encrypted_hda() -> MachineConfig {
    MachineConfig {
        drives: vec![hda("disk.qcow2", image("qcow2", GIB_BYTES, true))],
        ..pc()
    }
}

/// `-drive file=scratch.img,if=virtio,id=scratch` on a 512 MiB raw image.
fn scratch_drive() -> MachineConfig {
    MachineConfig {
        drives: vec![DriveConfig {
            opts: opts(&[("file", "scratch.img"), ("if", "virtio"), ("id", "scratch")]),
            probe: image("raw", GIB_BYTES / 2, false),
        }],
        ..pc()
    }
}

/// `-chardev stdio,id=monitor -mon chardev=monitor,mode=control -serial vc
/// -parallel none`: query-chardev's example.
fn monitor_on_stdio() -> MachineConfig {
    MachineConfig {
        chardevs: vec![
            ChardevConfig {
                label: "monitor".to_owned(),
                backend: ChardevBackend::Stdio,
            },
            ChardevConfig {
                label: "serial0".to_owned(),
                backend: ChardevBackend::Vc,
            },
        ],
        monitors: vec![MonitorConfig {
            chardev: "monitor".to_owned(),
            mode: MonitorMode::Control,
            pretty: false,
        }],
        serials: vec!["vc".to_owned()],
        parallels: vec!["none".to_owned()],
        ..pc()
    }
}

/// `-serial msmouse`: a Microsoft serial mouse besides the PS/2 one.
fn serial_mouse() -> MachineConfig {
    MachineConfig {
        chardevs: vec![
            ChardevConfig {
                label: "serial0".to_owned(),
                backend: ChardevBackend::Other("msmouse".to_owned()),
            },
            ChardevConfig {
                label: "parallel0".to_owned(),
                backend: ChardevBackend::Vc,
            },
        ],
        serials: vec!["msmouse".to_owned()],
        ..pc()
    }
}

// ---------------------------------------------------------------------------
// The table

macro_rules! seed_examples {
    ($(
        $test:ident: $command:literal # $nth:literal, $config:ident, negotiate $negotiate:literal,
            [$($step:expr),* $(,)?], $compare:expr, $reason:literal;
    )*) => {
        /// Every parseable example, in document order.
        const CASES: &[Case] = &[$(Case {
            test: stringify!($test),
            command: $command,
            nth: $nth,
            config: $config,
            negotiate: $negotiate,
            setup: &[$($step),*],
            compare: $compare,
            reason: $reason,
        }),*];

        $(
            #[test]
            fn $test() {
                check(stringify!($test));
            }
        )*
    };
}

use Compare::{Exact, OrderedShape, Pruned, SameValue, SameValueWithout, Shape, ShapeEmptying};
use Step::{Fd, IdleUntil, Line, MigrationBroken, Probed};

seed_examples! {
    quit_example_matches_doc: "quit" #0, pc, negotiate true, [], Exact, "";
    eject_example_matches_doc: "eject" #0, pc, negotiate true, [], Exact, "";
    change_block_example_matches_doc: "change" #0, pc, negotiate true,
        [Probed {
            path: "/srv/images/Fedora-12-x86_64-DVD.iso",
            format: "raw",
            size_bytes: DVD_BYTES,
        }],
        Exact, "";
    change_vnc_password_example_matches_doc: "change" #1, vnc_password, negotiate true, [],
        Exact, "";
    screendump_example_matches_doc: "screendump" #0, pc, negotiate true, [], Exact, "";
    stop_example_matches_doc: "stop" #0, pc, negotiate true, [], Exact, "";
    cont_example_matches_doc: "cont" #0, pc, negotiate true, [], Exact, "";
    system_reset_example_matches_doc: "system_reset" #0, pc, negotiate true, [], Exact, "";
    system_powerdown_example_matches_doc: "system_powerdown" #0, pc, negotiate true, [],
        Exact, "";
    device_add_example_matches_doc: "device_add" #0, pc, negotiate true, [], Exact, "";
    device_del_example_matches_doc: "device_del" #0, pc, negotiate true,
        [Line(r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"net1"}}"#)],
        Exact, "";
    cpu_example_matches_doc: "cpu" #0, pc, negotiate true, [], Exact, "";
    memsave_example_matches_doc: "memsave" #0, pc, negotiate true, [], Exact, "";
    pmemsave_example_matches_doc: "pmemsave" #0, pc, negotiate true, [], Exact, "";
    migrate_example_matches_doc: "migrate" #0, pc, negotiate true, [], Exact, "";
    migrate_cancel_example_matches_doc: "migrate_cancel" #0, pc, negotiate true, [], Exact, "";
    client_migrate_info_example_matches_doc: "client_migrate_info" #0, spice_doc, negotiate true,
        [], Exact, "";
    migrate_set_speed_example_matches_doc: "migrate_set_speed" #0, pc, negotiate true, [],
        Exact, "";
    migrate_set_downtime_example_matches_doc: "migrate_set_downtime" #0, pc, negotiate true,
        [], Exact, "";
    netdev_add_example_matches_doc: "netdev_add" #0, pc, negotiate true, [], Exact, "";
    netdev_del_example_matches_doc: "netdev_del" #0, pc, negotiate true,
        [Line(r#"{"execute":"netdev_add","arguments":{"type":"user","id":"netdev1"}}"#)],
        Exact, "";
    block_resize_example_matches_doc: "block_resize" #0, scratch_drive, negotiate true, [],
        Exact, "";
    balloon_example_matches_doc: "balloon" #0, balloon, negotiate true, [], Exact, "";
    set_link_example_matches_doc: "set_link" #0, pc, negotiate true, [], Exact, "";
    getfd_example_matches_doc: "getfd" #0, pc, negotiate true, [Fd], Exact, "";
    closefd_example_matches_doc: "closefd" #0, pc, negotiate true,
        [Fd, Line(r#"{"execute":"getfd","arguments":{"fdname":"fd1"}}"#)], Exact, "";
    block_passwd_example_matches_doc: "block_passwd" #0, encrypted_hda, negotiate true, [],
        Exact, "";
    set_password_example_matches_doc: "set_password" #0, vnc_password, negotiate true, [],
        Exact, "";
    expire_password_example_matches_doc: "expire_password" #0, vnc_password, negotiate true,
        [], Exact, "";
    qmp_capabilities_example_matches_doc: "qmp_capabilities" #0, pc, negotiate false, [],
        Exact, "";
    human_monitor_command_example_matches_doc: "human-monitor-command" #0, kvm,
        negotiate true, [], Exact, "";
    query_version_example_matches_doc: "query-version" #0, pc, negotiate true, [], Shape,
        "the document shows 0.11.5 in hand-written order; 0.14.0 is 0.14.0";
    query_commands_example_matches_doc: "query-commands" #0, pc, negotiate true, [],
        Pruned { lists: &["return"], ordered: false },
        "the document shortens the list to two hand-picked entries";
    query_chardev_example_matches_doc: "query-chardev" #0, monitor_on_stdio, negotiate true,
        [], SameValue, "hand-ordered: label before filename; 0.14 emits filename first";
    query_block_example_matches_doc: "query-block" #0, qcow2_hda, negotiate true, [], Exact,
        "";
    query_blockstats_example_matches_doc: "query-blockstats" #0, qcow2_hda, negotiate true,
        [], OrderedShape, "machine-generated, but the counters are a real guest's I/O";
    query_cpus_example_matches_doc: "query-cpus" #0, smp2, negotiate true, [], Shape,
        "hand-ordered; the pc values are a running guest's program counters";
    query_pci_example_matches_doc: "query-pci" #0, balloon, negotiate true, [],
        Pruned { lists: &["devices"], ordered: true },
        "shortened: PIIX4 ACPI (1.3) and the e1000 (3.0) are left out";
    query_kvm_example_matches_doc: "query-kvm" #0, kvm, negotiate true, [], Exact, "";
    query_status_example_matches_doc: "query-status" #0, pc, negotiate true, [], SameValue,
        "hand-ordered: running before singlestep";
    query_mice_example_matches_doc: "query-mice" #0, serial_mouse, negotiate true, [], Shape,
        "hand-ordered, older flags: 0.14 makes the first handler (msmouse) current, PS/2 relative";
    query_vnc_example_matches_doc: "query-vnc" #0, vnc_doc, negotiate true,
        [Line(r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"127.0.0.1","service":"50401","family":"ipv4"}}"#)],
        SameValue,
        "hand-ordered; the document's display (port 50402) and client come from -vnc and x-vnc-client";
    query_name_example_matches_doc: "query-name" #0, named, negotiate true, [], Exact, "";
    query_uuid_example_matches_doc: "query-uuid" #0, with_uuid, negotiate true, [], Exact, "";
    query_migrate_before_first_example_matches_doc: "query-migrate" #0, pc, negotiate true,
        [], Exact, "";
    query_migrate_completed_example_matches_doc: "query-migrate" #1, pc, negotiate true,
        [Line(r#"{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null"}}"#),
         IdleUntil("\"STOP\"")],
        Exact, "";
    query_migrate_failed_example_matches_doc: "query-migrate" #2, pc, negotiate true,
        [Line(r#"{"execute":"migrate","arguments":{"uri":"tcp:0:4446"}}"#), MigrationBroken],
        Exact, "";
    query_migrate_active_example_matches_doc: "query-migrate" #3, pc, negotiate true,
        [Line(r#"{"execute":"migrate_set_speed","arguments":{"value":1}}"#),
         Line(r#"{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null"}}"#)],
        Shape, "hand-ordered (ram: transferred first); the byte counts are illustrative";
    query_migrate_active_block_example_matches_doc: "query-migrate" #4, qcow2_hda,
        negotiate true,
        [Line(r#"{"execute":"migrate_set_speed","arguments":{"value":1}}"#),
         Line(r#"{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null","blk":true}}"#)],
        Shape, "hand-ordered (status, ram, disk); the byte counts are a real run's";
    query_balloon_example_matches_doc: "query-balloon" #0, balloon, negotiate true, [],
        SameValueWithout(&["mem_swapped_in", "mem_swapped_out", "major_page_faults",
            "minor_page_faults", "free_mem", "total_mem"]),
        "hand-ordered, and shows guest stats 0.14 compiles out: only actual is sent";
}

// ---------------------------------------------------------------------------
// The extractor and the table themselves

#[test]
fn extractor_finds_every_request_in_sqmp_sections() {
    assert_eq!(extract(SEED_HX).len(), EXAMPLES_TOTAL);
}

#[test]
fn extractor_parseable_example_count_is_fifty() {
    assert_eq!(parseable_examples().len(), EXAMPLES_PARSEABLE);
}

#[test]
fn extractor_unparseable_examples_are_legend_and_query_spice() {
    let unparseable: Vec<(usize, Option<String>)> = extract(SEED_HX)
        .into_iter()
        .filter(|e| !e.parseable())
        .map(|e| (e.line, e.command()))
        .collect();
    assert_eq!(
        unparseable,
        vec![(25, None), (1597, Some("query-spice".to_owned()))]
    );
}

#[test]
fn extractor_keeps_whitespace_only_lines_inside_a_response() {
    let hx = "SQMP\n-> { \"execute\": \"x\" }\n<- { \"return\": [\n   \n] }\n\nEQMP\n";
    assert_eq!(extract(hx)[0].response, "{ \"return\": [\n   \n] }");
}

#[test]
fn extractor_continues_a_request_over_lines() {
    let hx =
        "SQMP\n-> { \"execute\": \"x\",\n     \"arguments\": {} }\n<- { \"return\": {} }\nEQMP\n";
    assert_eq!(
        extract(hx)[0].request,
        "{ \"execute\": \"x\",\n     \"arguments\": {} }"
    );
}

#[test]
fn extractor_ignores_arrows_outside_sections() {
    let hx = "-> { \"execute\": \"x\" }\n<- { \"return\": {} }\n";
    assert_eq!(extract(hx), Vec::new());
}

#[test]
fn seed_copy_is_the_documented_file() {
    assert!(SEED_HX.starts_with("HXCOMM QMP dispatch table and documentation\n"));
}

#[test]
fn table_rows_are_the_parseable_examples_in_document_order() {
    let rows: Vec<(&str, usize)> = CASES.iter().map(|c| (c.command, c.nth)).collect();
    let examples: Vec<(String, usize)> = parseable_examples()
        .into_iter()
        .map(|(c, n, _)| (c, n))
        .collect();
    let examples: Vec<(&str, usize)> = examples.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    assert_eq!(rows, examples);
}

#[test]
fn table_gives_a_reason_for_every_inexact_comparison() {
    let unexplained: Vec<&str> = CASES
        .iter()
        .filter(|c| matches!(c.compare, Exact) == !c.reason.is_empty())
        .map(|c| c.test)
        .collect();
    assert!(unexplained.is_empty(), "rows: {unexplained:?}");
}

#[test]
fn respace_gives_qemu_single_line_format() {
    assert_eq!(
        respace("{ \"return\":{\n \"a\" :[ 1,2 ],\"b\": \"x, y: z\" } }"),
        "{\"return\": {\"a\": [1, 2], \"b\": \"x, y: z\"}}"
    );
}

#[test]
fn respace_keeps_escaped_quotes_inside_strings() {
    assert_eq!(respace(r#"{"a": "q\" ,b"}"#), r#"{"a": "q\" ,b"}"#);
}

/// Each comparison of a response with a document value, per row: what it
/// shows, the comparison, the document's text, ours, and whether it accepts.
#[test]
fn compare_response_accepts_what_its_comparison_allows() {
    let rows: [(&str, Compare, &str, &str, bool); 14] = [
        (
            "exact compare rejects other key order",
            Exact,
            "{\"a\": 1, \"b\": 2}",
            "{\"b\": 2, \"a\": 1}",
            false,
        ),
        (
            "same value ignores key order",
            SameValue,
            "{\"a\": 1, \"b\": 2}",
            "{\"b\": 2, \"a\": 1}",
            true,
        ),
        (
            "same value rejects other value",
            SameValue,
            "{\"a\": 1}",
            "{\"a\": 2}",
            false,
        ),
        (
            "shape accepts other values of same type",
            Shape,
            "{\"a\": 1, \"b\": \"x\"}",
            "{\"b\": \"y\", \"a\": 7}",
            true,
        ),
        (
            "shape rejects other type",
            Shape,
            "{\"a\": 1}",
            "{\"a\": \"1\"}",
            false,
        ),
        (
            "shape rejects missing key",
            Shape,
            "{\"a\": 1, \"b\": 2}",
            "{\"a\": 1}",
            false,
        ),
        (
            "ordered shape rejects other key order",
            OrderedShape,
            "{\"a\": 1, \"b\": 2}",
            "{\"b\": 2, \"a\": 1}",
            false,
        ),
        (
            "same value without drops named members",
            SameValueWithout(&["extra"]),
            "{\"a\": 1, \"extra\": 2}",
            "{\"a\": 1}",
            true,
        ),
        (
            "shape emptying expects empty named list",
            ShapeEmptying(&["l"]),
            "{\"l\": [1], \"a\": 1}",
            "{\"a\": 2, \"l\": []}",
            true,
        ),
        (
            "shape emptying rejects nonempty named list",
            ShapeEmptying(&["l"]),
            "{\"l\": [1]}",
            "{\"l\": [1]}",
            false,
        ),
        (
            "pruned accepts ordered subsequence",
            Pruned {
                lists: &["l"],
                ordered: true,
            },
            "{\"l\": [1, 3]}",
            "{\"l\": [1, 2, 3]}",
            true,
        ),
        (
            "pruned ordered rejects reordered elements",
            Pruned {
                lists: &["l"],
                ordered: true,
            },
            "{\"l\": [3, 1]}",
            "{\"l\": [1, 2, 3]}",
            false,
        ),
        (
            "pruned unordered accepts reordered elements",
            Pruned {
                lists: &["l"],
                ordered: false,
            },
            "{\"l\": [3, 1]}",
            "{\"l\": [1, 2, 3]}",
            true,
        ),
        (
            "pruned keeps other lists whole",
            Pruned {
                lists: &["l"],
                ordered: true,
            },
            "{\"m\": [1]}",
            "{\"m\": [1, 2]}",
            false,
        ),
    ];
    for (what, compare, doc, ours, accepts) in rows {
        let result = compare_response(compare, doc, ours);
        assert_eq!(result.is_ok(), accepts, "{what}: {result:?}");
    }
}

// ---------------------------------------------------------------------------
// The seed's examples as corpus transcripts (`traces/seed-*.qmptrace`)

/// One example as a `->`/`<-` transcript for `qmpsim trace import`.
#[derive(Debug, Clone)]
pub(crate) struct SeedTranscript {
    /// File name under `traces/`.
    pub file: String,
    /// The machine.
    pub config: MachineConfig,
    /// Whether the import adds `qmp_capabilities` after its connect.
    pub negotiate: bool,
    /// The transcript.
    pub text: String,
}

/// Every parseable example of the seed as a transcript: the setup (with qmpsim's
/// answers, which the setup requires to succeed), then the document's request
/// and, for an `Exact` row, the document's response in 0.14's one-line form. A
/// row that is not `Exact` expects 0.14's bytes instead, and keeps the
/// document's text and the reason in `#` lines; `seed_examples` compares the
/// two by value or by shape. Events are qmpsim's (the document leaves them out).
pub(crate) fn corpus_transcripts() -> Vec<SeedTranscript> {
    let examples = parseable_examples();
    CASES
        .iter()
        .map(|case| {
            let (_, _, example) = examples
                .iter()
                .find(|(c, n, _)| c == case.command && *n == case.nth)
                .expect("every row has its example");
            SeedTranscript {
                file: format!(
                    "seed-{}.qmptrace",
                    case.test
                        .trim_end_matches("_example_matches_doc")
                        .replace('_', "-")
                ),
                config: (case.config)(),
                negotiate: case.negotiate,
                text: seed_transcript(case, example),
            }
        })
        .collect()
}

fn seed_transcript(case: &Case, example: &Example) -> String {
    let mut runner = Runner::new((case.config)());
    if case.negotiate {
        runner.step(bytes(r#"{"execute":"qmp_capabilities"}"#));
    }
    let mut text = format!(
        "# notes: qmp-commands-0.14.hx line {}: the {} example{}\n",
        example.line,
        case.command,
        if case.nth == 0 {
            String::new()
        } else {
            format!(" #{}", case.nth + 1)
        }
    );
    for step in case.setup {
        text.push_str(&setup_lines(&mut runner, *step));
    }
    text.push_str("-> ");
    text.push_str(&example.request.replace('\n', "\n   "));
    text.push('\n');
    let ours: Vec<String> = runner
        .step(bytes(&example.request))
        .into_iter()
        .filter(|m| !is_event(m))
        .collect();
    if matches!(case.compare, Compare::Exact) {
        text.push_str(&format!("<- {}\n", respace(&example.response)));
    } else {
        text.push_str(&format!(
            "# notes: the document shows {}\n# notes: compared by {:?} in tests/it/seed_examples.rs: {}\n",
            respace(&example.response),
            case.compare,
            case.reason
        ));
        for line in &ours {
            text.push_str(&format!("<- {line}\n"));
        }
    }
    text
}

/// A setup step in transcript notation, with qmpsim's answers.
fn setup_lines(runner: &mut Runner, step: Step) -> String {
    let answers = |sent: Vec<String>| -> String {
        sent.into_iter()
            .filter(|m| !is_event(m))
            .map(|m| format!("<- {m}\n"))
            .collect()
    };
    match step {
        Step::Line(line) => format!("-> {line}\n{}", answers(runner.step(bytes(line)))),
        Step::Fd => {
            runner.step(Input::Fd {
                client: CLIENT,
                fd: PASSED_FD,
            });
            format!("# fd {} from client {}\n", PASSED_FD.0, CLIENT.0)
        }
        Step::IdleUntil(marker) => {
            let mut text = String::new();
            for _ in 0..IDLE_ADVANCES_MAX {
                let at = runner
                    .engine
                    .next_deadline()
                    .expect("setup reaches its marker");
                text.push_str(&format!(
                    "# advance to {}.{:09}\n",
                    at.0 / 1_000_000_000,
                    at.0 % 1_000_000_000
                ));
                if runner
                    .step(Input::AdvanceTo { at })
                    .iter()
                    .any(|m| m.contains(marker))
                {
                    break;
                }
            }
            text
        }
        Step::MigrationBroken => {
            let id = runner.migration_id.expect("a migration was started");
            runner.step(Input::MigrationFailed { id });
            format!("# fault: migration {id} channel broke\n")
        }
        Step::Probed {
            path,
            format,
            size_bytes,
        } => {
            runner.step(Input::ImageProbed {
                path: path.to_owned(),
                probe: image(format, size_bytes, false).expect("image gives a probe"),
            });
            format!("# probed {path}: {format}, {size_bytes} bytes\n")
        }
    }
}

#[test]
fn corpus_transcripts_cover_every_parseable_example() {
    assert_eq!(corpus_transcripts().len(), EXAMPLES_PARSEABLE);
}
