//! Happenings of the simulated world that 0.14 reports as events: VNC clients
//! and SPICE channels connecting and leaving (VNC_*, SPICE_*), a guest I/O
//! error on a drive (BLOCK_IO_ERROR), the guest setting its RTC (RTC_CHANGE)
//! and the watchdog expiring (WATCHDOG). There are no display sockets and no
//! guest code, so the `x-` extension commands (`qmp::commands::inject`) call
//! these methods; each is what 0.14 does at that moment.
//!
//! Timing: the events of the happening itself are queued at once, so they reach
//! clients before the response of the command that injected it; what 0.14
//! defers to its main loop (the RESET and POWERDOWN of a watchdog action, the
//! guest's later SHUTDOWN) is queued as a [`Request`] and follows the response.
//! Event data objects are built in 0.14's insertion order; the wire layer
//! emits them in hash order. No I/O: the watchdog's `debug` line leaves as an
//! [`Effect::Stderr`].

use super::devices::block::{IoErrno, IoErrorOutcome, IoOperation};
use super::display::{
    SockAddr, SpiceChannel, SpiceServer, VncClient, VncServer, SPICE_CHANNELS_MAX, VNC_CLIENTS_MAX,
};
use super::events::{Event, VncServerEnd};
use super::rtc::Rtc;
use super::watchdog::{WatchdogAction, WatchdogModel, WATCHDOG_DEBUG_MESSAGE};
use super::{Effect, Machine, Request};
use crate::qobject::{ErrorClass, QmpError};

/// Largest connection id spice-server draws (`rand()`, glibc's `RAND_MAX`).
pub const SPICE_CONNECTION_ID_RANDOM_MAX: u64 = 0x7FFF_FFFF;

/// A SPICE channel connection as the client opens it; the server end and a
/// missing connection id are filled in by [`Machine::spice_channel_connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiceChannelRequest {
    /// The client's address (`service` is its port).
    pub client: SockAddr,
    /// The session id, or `None` for one drawn as spice-server does.
    pub connection_id: Option<u32>,
    /// Channel type (1 = main).
    pub channel_type: u8,
    /// Channel index.
    pub channel_id: u8,
    /// Whether it connects to the TLS port.
    pub tls: bool,
}

/// DeviceNotActive: no such display (`vnc`, `spice`).
fn not_active(display: &str) -> QmpError {
    QmpError::with1(ErrorClass::DeviceNotActive, display)
}

/// DeviceNotFound: no display client at `host`:`service`.
fn not_found(host: &str, service: &str) -> QmpError {
    QmpError::with1(ErrorClass::DeviceNotFound, &format!("{host}:{service}"))
}

/// A new display client at `addr` (a `what`) when `taken` (the index of the
/// one already there) and `count` of at most `max` clients: DuplicateId or
/// TooManyFiles when it cannot join.
fn admit(
    addr: &SockAddr,
    what: &str,
    taken: Option<usize>,
    count: usize,
    max: usize,
) -> Result<(), QmpError> {
    if taken.is_some() {
        return Err(QmpError::with2(
            ErrorClass::DuplicateId,
            &addr.label(),
            what,
        ));
    }
    if count >= max {
        return Err(QmpError::bare(ErrorClass::TooManyFiles));
    }
    Ok(())
}

/// InvalidParameter for an `x509_dname` or `sasl_username` that `vnc`'s
/// authentication scheme does not produce.
fn check_auth_names(
    vnc: &VncServer,
    x509_dname: &Option<String>,
    sasl_username: &Option<String>,
) -> Result<(), QmpError> {
    if x509_dname.is_some() && !vnc.auth_uses_x509_dname() {
        return Err(QmpError::with1(ErrorClass::InvalidParameter, "x509_dname"));
    }
    if sasl_username.is_some() && !vnc.auth_uses_sasl_username() {
        return Err(QmpError::with1(
            ErrorClass::InvalidParameter,
            "sasl_username",
        ));
    }
    Ok(())
}

impl Machine {
    /// A VNC client connects and authenticates: VNC_CONNECTED (before
    /// authentication, so without `x509_dname`/`sasl_username`), then
    /// VNC_INITIALIZED; the client joins the head of `query-vnc`'s list.
    ///
    /// Errors: no VNC display with a reportable address → DeviceNotActive
    /// `vnc`; an `x509_dname` or `sasl_username` the server's scheme does not
    /// produce → InvalidParameter; a client already at that address →
    /// DuplicateId (object `vnc client`); [`VNC_CLIENTS_MAX`] clients →
    /// TooManyFiles.
    pub fn vnc_client_connect(&mut self, client: VncClient) -> Result<(), QmpError> {
        let server = self.vnc_client_open(client.clone())?;
        if self.vnc_acl_refuses(&client.addr.host, &client.addr.service)? {
            return Ok(());
        }
        self.emit(Event::VncInitialized { server, client });
        Ok(())
    }

    /// A VNC client connects and has not authenticated yet: VNC_CONNECTED
    /// only; the client joins the head of `query-vnc`'s list (0.14's
    /// `vnc_connect` lists it at once). [`Machine::vnc_client_authenticate`]
    /// finishes the handshake. Errors as [`Machine::vnc_client_connect`].
    pub fn vnc_client_open(&mut self, client: VncClient) -> Result<VncServerEnd, QmpError> {
        let vnc = self.display.vnc.as_mut().ok_or_else(|| not_active("vnc"))?;
        let server = vnc.server_end().ok_or_else(|| not_active("vnc"))?;
        check_auth_names(vnc, &client.x509_dname, &client.sasl_username)?;
        let taken = vnc.client_index(&client.addr.host, &client.addr.service);
        admit(
            &client.addr,
            "vnc client",
            taken,
            vnc.clients.len(),
            VNC_CLIENTS_MAX,
        )?;
        vnc.clients.insert(0, client.clone());
        self.emit(Event::VncConnected {
            server: server.clone(),
            client,
        });
        Ok(server)
    }

    /// The VNC client at `host`:`service` finishes authentication, with the
    /// `x509_dname`/`sasl_username` given: VNC_INITIALIZED.
    ///
    /// Errors: no VNC server with a reportable address → DeviceNotActive
    /// `vnc`; no such client → DeviceNotFound `HOST:SERVICE`; a name the
    /// scheme does not produce → InvalidParameter.
    pub fn vnc_client_authenticate(
        &mut self,
        host: &str,
        service: &str,
        x509_dname: Option<String>,
        sasl_username: Option<String>,
    ) -> Result<(), QmpError> {
        let vnc = self.display.vnc.as_mut().ok_or_else(|| not_active("vnc"))?;
        let server = vnc.server_end().ok_or_else(|| not_active("vnc"))?;
        check_auth_names(vnc, &x509_dname, &sasl_username)?;
        let index = vnc
            .client_index(host, service)
            .ok_or_else(|| not_found(host, service))?;
        let client = &mut vnc.clients[index];
        client.x509_dname = x509_dname;
        client.sasl_username = sasl_username;
        let client = client.clone();
        if self.vnc_acl_refuses(host, service)? {
            return Ok(());
        }
        self.emit(Event::VncInitialized { server, client });
        Ok(())
    }

    /// The VNC client at `host`:`service` goes away: VNC_DISCONNECTED, and it
    /// leaves `query-vnc`. As in 0.14's `vnc_qmp_event`, no event is sent when
    /// the display has no reportable address any more (closed with
    /// `change vnc none`, for example).
    ///
    /// Errors: no VNC server → DeviceNotActive `vnc`; no such client →
    /// DeviceNotFound `HOST:SERVICE`.
    pub fn vnc_client_disconnect(&mut self, host: &str, service: &str) -> Result<(), QmpError> {
        let vnc = self.display.vnc.as_mut().ok_or_else(|| not_active("vnc"))?;
        let index = vnc
            .client_index(host, service)
            .ok_or_else(|| not_found(host, service))?;
        let client = vnc.clients.remove(index);
        if let Some(server) = vnc.server_end() {
            self.emit(Event::VncDisconnected { server, client });
        }
        Ok(())
    }

    /// A SPICE client opens one channel connection: SPICE_CONNECTED, then
    /// SPICE_INITIALIZED (server with `auth`, client with the channel info);
    /// the channel joins the tail of `query-spice`'s list. The server end is
    /// the `addr=` the server listens on, or the loopback address of the
    /// client's family when it listens on every address, with the plain or
    /// TLS port. A missing connection id is drawn from the machine's rng in
    /// `0..=`[`SPICE_CONNECTION_ID_RANDOM_MAX`].
    ///
    /// Errors: no `-spice` → DeviceNotActive `spice`; no port for the
    /// requested kind of connection → InvalidParameterValue `tls`; a channel
    /// already at that client address → DuplicateId (object `spice channel`);
    /// [`SPICE_CHANNELS_MAX`] channels → TooManyFiles.
    pub fn spice_channel_connect(&mut self, request: SpiceChannelRequest) -> Result<(), QmpError> {
        let channel = self.spice_channel_open(request)?;
        let auth = self
            .display
            .spice
            .as_ref()
            .expect("the channel just opened on the SPICE server")
            .auth;
        self.emit(Event::SpiceInitialized { channel, auth });
        Ok(())
    }

    /// A SPICE channel connects and has not linked (authenticated) yet:
    /// SPICE_CONNECTED only; the channel joins `query-spice`'s list.
    /// [`Machine::spice_channel_authenticate`] finishes it. Errors as
    /// [`Machine::spice_channel_connect`].
    pub fn spice_channel_open(
        &mut self,
        request: SpiceChannelRequest,
    ) -> Result<SpiceChannel, QmpError> {
        let spice = self
            .display
            .spice
            .as_ref()
            .ok_or_else(|| not_active("spice"))?;
        let port = if request.tls {
            spice.tls_port
        } else {
            spice.port
        };
        if port == 0 {
            let expected = if request.tls { "false" } else { "true" };
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "tls",
                expected,
            ));
        }
        let client = request.client;
        let taken = spice.channel_index(&client.host, &client.service);
        admit(
            &client,
            "spice channel",
            taken,
            spice.channels.len(),
            SPICE_CHANNELS_MAX,
        )?;
        let server = spice_server_end(spice.addr.as_deref(), &client.family, port);
        let connection_id = match request.connection_id {
            Some(id) => id,
            None => u32::try_from(self.rng.range(0, SPICE_CONNECTION_ID_RANDOM_MAX))
                .expect("the random connection id is at most RAND_MAX"),
        };
        let channel = SpiceChannel {
            client,
            server,
            connection_id,
            channel_type: request.channel_type,
            channel_id: request.channel_id,
            tls: request.tls,
        };
        self.display
            .spice
            .as_mut()
            .expect("the SPICE server was found above")
            .channels
            .push(channel.clone());
        self.emit(Event::SpiceConnected {
            channel: channel.clone(),
        });
        Ok(channel)
    }

    /// The SPICE channel whose client end is `host`:`port` links:
    /// SPICE_INITIALIZED.
    ///
    /// Errors: no `-spice` → DeviceNotActive `spice`; no such channel →
    /// DeviceNotFound `HOST:PORT`.
    pub fn spice_channel_authenticate(&mut self, host: &str, port: &str) -> Result<(), QmpError> {
        let (spice, index) = self.spice_channel_at(host, port)?;
        let channel = spice.channels[index].clone();
        let auth = spice.auth;
        self.emit(Event::SpiceInitialized { channel, auth });
        Ok(())
    }

    /// The SPICE channel whose client end is `host`:`port` closes:
    /// SPICE_DISCONNECTED (addresses only), and it leaves `query-spice`.
    ///
    /// Errors: no `-spice` → DeviceNotActive `spice`; no such channel →
    /// DeviceNotFound `HOST:PORT`.
    pub fn spice_channel_disconnect(&mut self, host: &str, port: &str) -> Result<(), QmpError> {
        let (spice, index) = self.spice_channel_at(host, port)?;
        let channel = spice.channels.remove(index);
        self.emit(Event::SpiceDisconnected { channel });
        Ok(())
    }

    /// The SPICE server and the index of its channel whose client end is
    /// `host`:`port`.
    ///
    /// Errors: no `-spice` → DeviceNotActive `spice`; no such channel →
    /// DeviceNotFound `HOST:PORT`.
    fn spice_channel_at(
        &mut self,
        host: &str,
        port: &str,
    ) -> Result<(&mut SpiceServer, usize), QmpError> {
        let spice = self
            .display
            .spice
            .as_mut()
            .ok_or_else(|| not_active("spice"))?;
        let index = spice
            .channel_index(host, port)
            .ok_or_else(|| not_found(host, port))?;
        Ok((spice, index))
    }

    /// Every SPICE channel closes, oldest first, each with SPICE_DISCONNECTED
    /// (`set_password` with `connected: "disconnect"`, spice-server's
    /// `reds_disconnect`). Nothing happens without `-spice`.
    pub fn spice_disconnect_all(&mut self) {
        let channels = match self.display.spice.as_mut() {
            Some(spice) => std::mem::take(&mut spice.channels),
            None => return,
        };
        for channel in channels {
            self.emit(Event::SpiceDisconnected { channel });
        }
    }

    /// A guest request on drive `device` fails: BLOCK_IO_ERROR with the
    /// action the drive's `rerror`/`werror` gives; for `stop`, the VM then
    /// stops (STOP, if it was running), as 0.14's `vm_stop` in the I/O path.
    /// The stopped request is retried, and succeeds, when the VM continues.
    ///
    /// Errors: unknown drive → DeviceNotFound; no medium → DeviceNotActive.
    pub fn block_io_error(
        &mut self,
        device: &str,
        op: IoOperation,
        errno: IoErrno,
    ) -> Result<(), QmpError> {
        let outcome = self.devices.block.io_error(device, op, errno)?;
        self.emit(Event::BlockIoError {
            device: device.to_owned(),
            action: outcome,
            operation: op,
        });
        match outcome {
            IoErrorOutcome::Stop => self.vm_stop(),
            IoErrorOutcome::Ignore | IoErrorOutcome::Report => {}
        }
        Ok(())
    }

    /// The guest writes its RTC, `offset_s` seconds ahead of host time:
    /// RTC_CHANGE `{"offset": offset_s}`.
    ///
    /// Errors: an offset outside a C `int` → InvalidParameterValue `offset`.
    pub fn rtc_set(&mut self, offset_s: i64) -> Result<(), QmpError> {
        if !Rtc::offset_fits(offset_s) {
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "offset",
                "a number of seconds that fits in 32 bits",
            ));
        }
        self.rtc.offset_s = offset_s;
        self.emit(Event::RtcChange { offset_s });
        Ok(())
    }

    /// Whether a watchdog device (`-watchdog`, `-device`, `device_add`) exists.
    pub fn has_watchdog(&self) -> bool {
        self.devices
            .qdev
            .devices
            .iter()
            .any(|d| WatchdogModel::from_driver(&d.driver).is_some())
    }

    /// The guest stopped petting its watchdog and it expired (0.14's
    /// `watchdog_perform_action`): WATCHDOG `{"action": A}`, then the action.
    /// `reset` requests a reset (RESET after the response), `shutdown` presses
    /// the power button (POWERDOWN after the response; the guest then shuts
    /// down), `poweroff` exits at once without SHUTDOWN (0.14 calls `exit(0)`),
    /// `pause` stops the VM (STOP before the response), `debug` prints
    /// `watchdog: timer fired` on stderr, `none` does nothing more.
    ///
    /// Errors: no watchdog device → DeviceNotActive `watchdog`.
    pub fn watchdog_expire(&mut self) -> Result<(), QmpError> {
        if !self.has_watchdog() {
            return Err(QmpError::with1(ErrorClass::DeviceNotActive, "watchdog"));
        }
        let action = self.watchdog.action;
        self.emit(Event::Watchdog { action });
        match action {
            WatchdogAction::Reset => self.requests.push(Request::Reset),
            WatchdogAction::Shutdown => self.requests.push(Request::Powerdown),
            WatchdogAction::Poweroff => self.exit_code = Some(0),
            WatchdogAction::Pause => self.vm_stop(),
            WatchdogAction::Debug => self.effects.push(Effect::Stderr {
                text: WATCHDOG_DEBUG_MESSAGE.to_owned(),
            }),
            WatchdogAction::None => {}
        }
        Ok(())
    }
}

/// The server end of a SPICE connection: `addr=` unless it is a wildcard, else
/// the loopback address of the client's family.
fn spice_server_end(addr: Option<&str>, client_family: &str, port: i64) -> SockAddr {
    let host = match addr {
        Some(a) if !a.is_empty() && a != "0.0.0.0" && a != "::" => a.to_owned(),
        Some(_) | None if client_family == "ipv6" => "::1".to_owned(),
        Some(_) | None => "127.0.0.1".to_owned(),
    };
    let family = if host.contains(':') { "ipv6" } else { "ipv4" };
    SockAddr {
        host,
        service: port.to_string(),
        family: family.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{DriveConfig, MachineConfig, OptionList};
    use crate::machine::display::{SpiceAuth, VncAuth};
    use crate::machine::events::VncServerEnd;
    use crate::machine::rng::Rng;
    use crate::machine::RunState;

    fn names(m: &mut Machine) -> Vec<String> {
        m.events.drain_names()
    }

    fn events(m: &mut Machine) -> Vec<Event> {
        m.events.drain().into_iter().map(|e| e.event).collect()
    }

    fn addr(host: &str, service: &str, family: &str) -> SockAddr {
        SockAddr {
            host: host.into(),
            service: service.into(),
            family: family.into(),
        }
    }

    fn vnc_client(service: &str) -> VncClient {
        VncClient {
            addr: addr("127.0.0.1", service, "ipv4"),
            x509_dname: None,
            sasl_username: None,
        }
    }

    fn vnc_machine(display: &str) -> Machine {
        Machine::new(MachineConfig {
            vnc: Some(display.into()),
            ..MachineConfig::default()
        })
    }

    fn spice_machine(opts: &[(&str, &str)]) -> Machine {
        let mut o = OptionList::default();
        for (k, v) in opts {
            o.push(k, v);
        }
        Machine::new(MachineConfig {
            spice: Some(o),
            ..MachineConfig::default()
        })
    }

    fn channel(port: &str, tls: bool) -> SpiceChannelRequest {
        SpiceChannelRequest {
            client: addr("127.0.0.1", port, "ipv4"),
            connection_id: Some(7),
            channel_type: 1,
            channel_id: 0,
            tls,
        }
    }

    fn disk_machine(opts: &[(&str, &str)]) -> Machine {
        let mut d = DriveConfig::default();
        d.opts.push("file", "disk.img");
        d.opts.push("index", "0");
        for (k, v) in opts {
            d.opts.push(k, v);
        }
        d.opts.push("x-virtual", "on");
        d.opts.push("x-size", "1048576");
        Machine::new(MachineConfig {
            drives: vec![d],
            ..MachineConfig::default()
        })
    }

    fn watchdog_machine(action: &str) -> Machine {
        Machine::new(MachineConfig {
            watchdog: Some(WatchdogModel::I6300esb),
            watchdog_action: Some(WatchdogAction::parse(action).expect("a test action name")),
            ..MachineConfig::default()
        })
    }

    #[test]
    fn vnc_connect_emits_connected_then_initialized() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        assert_eq!(names(&mut m), ["VNC_CONNECTED", "VNC_INITIALIZED"]);
    }

    #[test]
    fn vnc_connect_event_has_listening_address_and_client() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        assert_eq!(
            events(&mut m)[0],
            Event::VncConnected {
                server: VncServerEnd {
                    addr: addr("0.0.0.0", "5901", "ipv4"),
                    auth: VncAuth::None,
                },
                client: vnc_client("50000"),
            }
        );
    }

    #[test]
    fn vnc_initialized_carries_the_authenticated_client() {
        let mut m = vnc_machine(":1,tls,x509=/c,sasl");
        let mut c = vnc_client("50000");
        c.x509_dname = Some("CN=viewer".into());
        c.sasl_username = Some("alice".into());
        m.vnc_client_connect(c.clone()).unwrap();
        let initialized = events(&mut m).pop();
        assert!(matches!(initialized, Some(Event::VncInitialized { client, .. }) if client == c));
    }

    #[test]
    fn vnc_connect_newest_client_comes_first() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        m.vnc_client_connect(vnc_client("50001")).unwrap();
        let vnc = m.display.vnc.unwrap();
        assert_eq!(vnc.clients[0].addr.service, "50001");
    }

    #[test]
    fn vnc_connect_without_a_listening_display_is_not_active() {
        for mut m in [Machine::new(MachineConfig::default()), vnc_machine("none")] {
            assert_eq!(
                m.vnc_client_connect(vnc_client("1")),
                Err(QmpError::with1(ErrorClass::DeviceNotActive, "vnc"))
            );
        }
    }

    #[test]
    fn vnc_connect_auth_name_without_that_auth_is_invalid() {
        let sasl_client = VncClient {
            sasl_username: Some("alice".into()),
            ..vnc_client("1")
        };
        let x509_client = VncClient {
            x509_dname: Some("CN=x".into()),
            ..vnc_client("1")
        };
        for (display, client, param) in [
            (":1", sasl_client, "sasl_username"),
            (":1,tls", x509_client, "x509_dname"),
        ] {
            assert_eq!(
                vnc_machine(display).vnc_client_connect(client),
                Err(QmpError::with1(ErrorClass::InvalidParameter, param)),
                "{param}"
            );
        }
    }

    #[test]
    fn vnc_connect_same_address_twice_is_duplicate() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        assert_eq!(
            m.vnc_client_connect(vnc_client("50000")),
            Err(QmpError::with2(
                ErrorClass::DuplicateId,
                "127.0.0.1:50000",
                "vnc client"
            ))
        );
    }

    /// A VNC display `:1` with `n` clients connected (ports 0, 1, ...).
    fn vnc_with_clients(n: usize) -> Machine {
        let mut m = vnc_machine(":1");
        (0..n).for_each(|port| {
            m.vnc_client_connect(vnc_client(&port.to_string()))
                .expect("room for a VNC client");
        });
        m
    }

    #[test]
    fn vnc_connect_reaching_limit_is_accepted() {
        let mut m = vnc_with_clients(VNC_CLIENTS_MAX - 1);
        assert_eq!(m.vnc_client_connect(vnc_client("last")), Ok(()));
    }

    #[test]
    fn vnc_connect_past_limit_is_too_many_files() {
        let mut m = vnc_with_clients(VNC_CLIENTS_MAX);
        assert_eq!(
            m.vnc_client_connect(vnc_client("past")),
            Err(QmpError::bare(ErrorClass::TooManyFiles))
        );
    }

    #[test]
    fn vnc_connect_past_limit_emits_no_event() {
        let mut m = vnc_with_clients(VNC_CLIENTS_MAX);
        m.events.drain();
        let _ = m.vnc_client_connect(vnc_client("past"));
        assert!(m.events.is_empty());
    }

    #[test]
    fn vnc_disconnect_emits_disconnected_and_forgets_client() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        m.events.drain();
        m.vnc_client_disconnect("127.0.0.1", "50000").unwrap();
        assert_eq!(names(&mut m), ["VNC_DISCONNECTED"]);
        assert!(m.display.vnc.unwrap().clients.is_empty());
    }

    #[test]
    fn vnc_disconnect_unknown_client_is_not_found() {
        let mut m = vnc_machine(":1");
        assert_eq!(
            m.vnc_client_disconnect("127.0.0.1", "9"),
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "127.0.0.1:9"))
        );
    }

    #[test]
    fn vnc_disconnect_after_display_closed_is_silent() {
        let mut m = vnc_machine(":1");
        m.vnc_client_connect(vnc_client("50000")).unwrap();
        m.events.drain();
        m.display.vnc.as_mut().unwrap().open("none").unwrap();
        m.vnc_client_disconnect("127.0.0.1", "50000").unwrap();
        assert!(m.events.is_empty());
    }

    #[test]
    fn spice_connect_emits_connected_then_initialized() {
        let mut m = spice_machine(&[("port", "5930")]);
        m.spice_channel_connect(channel("40000", false)).unwrap();
        assert_eq!(names(&mut m), ["SPICE_CONNECTED", "SPICE_INITIALIZED"]);
    }

    #[test]
    fn spice_initialized_carries_auth_and_channel() {
        let mut m = spice_machine(&[("port", "5930")]);
        m.spice_channel_connect(channel("40000", false)).unwrap();
        let initialized = events(&mut m).pop();
        assert!(matches!(
            initialized,
            Some(Event::SpiceInitialized { channel, auth: SpiceAuth::Spice })
                if channel.connection_id == 7 && !channel.tls
        ));
    }

    #[test]
    fn spice_server_end_is_loopback_on_plain_port() {
        let mut m = spice_machine(&[("port", "5930")]);
        m.spice_channel_connect(channel("40000", false)).unwrap();
        let ch = &m.display.spice.unwrap().channels[0];
        assert_eq!(ch.server, addr("127.0.0.1", "5930", "ipv4"));
    }

    #[test]
    fn spice_server_end_uses_addr_and_tls_port() {
        let mut m = spice_machine(&[("addr", "::1"), ("tls-port", "5931")]);
        m.spice_channel_connect(channel("40000", true)).unwrap();
        let ch = &m.display.spice.unwrap().channels[0];
        assert_eq!(ch.server, addr("::1", "5931", "ipv6"));
    }

    #[test]
    fn spice_server_end_of_a_wildcard_or_empty_addr_is_the_clients_loopback() {
        let ends: Vec<SockAddr> = [
            (Some("0.0.0.0"), "ipv4"),
            (Some("::"), "ipv6"),
            (Some(""), "ipv4"),
            (None, "ipv6"),
            (Some("192.0.2.7"), "ipv6"),
        ]
        .iter()
        .map(|(a, family)| spice_server_end(*a, family, 5930))
        .collect();
        assert_eq!(
            ends,
            [
                addr("127.0.0.1", "5930", "ipv4"),
                addr("::1", "5930", "ipv6"),
                addr("127.0.0.1", "5930", "ipv4"),
                addr("::1", "5930", "ipv6"),
                addr("192.0.2.7", "5930", "ipv4"),
            ]
        );
    }

    #[test]
    fn spice_connect_tls_without_tls_port_expects_false() {
        let mut m = spice_machine(&[("port", "5930")]);
        assert_eq!(
            m.spice_channel_connect(channel("40000", true)),
            Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "tls",
                "false"
            ))
        );
    }

    #[test]
    fn spice_connect_without_spice_is_not_active() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            m.spice_channel_connect(channel("1", false)),
            Err(QmpError::with1(ErrorClass::DeviceNotActive, "spice"))
        );
    }

    #[test]
    fn spice_connect_without_id_draws_from_rng() {
        let mut a = spice_machine(&[("port", "5930")]);
        let mut b = spice_machine(&[("port", "5930")]);
        let mut req = channel("40000", false);
        req.connection_id = None;
        a.spice_channel_connect(req.clone()).unwrap();
        b.spice_channel_connect(req).unwrap();
        let id = |m: Machine| m.display.spice.unwrap().channels[0].connection_id;
        assert_eq!(id(a), id(b));
    }

    #[test]
    fn spice_connect_same_address_twice_is_duplicate() {
        let mut m = spice_machine(&[("port", "5930")]);
        m.spice_channel_connect(channel("40000", false)).unwrap();
        assert_eq!(
            m.spice_channel_connect(channel("40000", false)),
            Err(QmpError::with2(
                ErrorClass::DuplicateId,
                "127.0.0.1:40000",
                "spice channel"
            ))
        );
    }

    /// A SPICE server with `n` channels connected (client ports 0, 1, ...).
    fn spice_with_channels(n: usize) -> Machine {
        let mut m = spice_machine(&[("port", "5930")]);
        (0..n).for_each(|port| {
            m.spice_channel_connect(channel(&port.to_string(), false))
                .expect("room for a SPICE channel");
        });
        m
    }

    #[test]
    fn spice_connect_reaching_limit_is_accepted() {
        let mut m = spice_with_channels(SPICE_CHANNELS_MAX - 1);
        assert_eq!(m.spice_channel_connect(channel("last", false)), Ok(()));
    }

    #[test]
    fn spice_connect_past_limit_is_too_many_files() {
        let mut m = spice_with_channels(SPICE_CHANNELS_MAX);
        assert_eq!(
            m.spice_channel_connect(channel("past", false)),
            Err(QmpError::bare(ErrorClass::TooManyFiles))
        );
    }

    #[test]
    fn spice_connect_past_limit_emits_no_event() {
        let mut m = spice_with_channels(SPICE_CHANNELS_MAX);
        m.events.drain();
        let _ = m.spice_channel_connect(channel("past", false));
        assert!(m.events.is_empty());
    }

    /// The inverse of the odd `m` modulo 2^64 (Newton's iteration).
    fn inverse_mod_2_64(m: u64) -> u64 {
        (0..6).fold(m, |x, _| {
            x.wrapping_mul(2u64.wrapping_sub(m.wrapping_mul(x)))
        })
    }

    /// The inverse of `z ^= z >> shift`.
    fn unshift_xor(y: u64, shift: u32) -> u64 {
        (0..64 / shift + 1).fold(y, |x, _| y ^ (x >> shift))
    }

    /// An rng whose next `next_u64` is `value`: SplitMix64 run backwards.
    fn rng_drawing(value: u64) -> Rng {
        let z = unshift_xor(value, 31);
        let z = unshift_xor(z.wrapping_mul(inverse_mod_2_64(0x94D0_49BB_1331_11EB)), 27);
        let state = unshift_xor(z.wrapping_mul(inverse_mod_2_64(0xBF58_476D_1CE4_E5B9)), 30);
        Rng::new(state.wrapping_sub(0x9E37_79B9_7F4A_7C15))
    }

    #[test]
    fn rng_drawing_gives_the_value_next() {
        assert_eq!(
            rng_drawing(0x1234_5678_9abc_def0).next_u64(),
            0x1234_5678_9abc_def0
        );
    }

    /// The connection id drawn for a channel when the rng's next draw is `draw`.
    fn drawn_connection_id(draw: u64) -> u32 {
        let mut m = spice_machine(&[("port", "5930")]);
        m.rng = rng_drawing(draw);
        let mut req = channel("40000", false);
        req.connection_id = None;
        m.spice_channel_connect(req).expect("a channel connects");
        m.display.spice.unwrap().channels[0].connection_id
    }

    #[test]
    fn spice_connection_id_draw_at_random_max_is_kept() {
        let id = drawn_connection_id(SPICE_CONNECTION_ID_RANDOM_MAX);
        assert_eq!(u64::from(id), SPICE_CONNECTION_ID_RANDOM_MAX);
    }

    #[test]
    fn spice_connection_id_draw_past_random_max_wraps_to_zero() {
        assert_eq!(drawn_connection_id(SPICE_CONNECTION_ID_RANDOM_MAX + 1), 0);
    }

    #[test]
    fn spice_disconnect_emits_the_channel_with_both_ends() {
        let mut m = spice_machine(&[("port", "5930")]);
        m.spice_channel_connect(channel("40000", false)).unwrap();
        m.events.drain();
        m.spice_channel_disconnect("127.0.0.1", "40000").unwrap();
        let ev = events(&mut m);
        assert!(
            matches!(ev.as_slice(), [Event::SpiceDisconnected { channel }]
                if channel.client == addr("127.0.0.1", "40000", "ipv4")
                    && channel.server == addr("127.0.0.1", "5930", "ipv4")),
            "{ev:?}"
        );
    }

    #[test]
    fn spice_disconnect_unknown_channel_is_not_found() {
        let mut m = spice_machine(&[("port", "5930")]);
        assert_eq!(
            m.spice_channel_disconnect("127.0.0.1", "1"),
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "127.0.0.1:1"))
        );
    }

    #[test]
    fn block_error_default_write_eio_is_reported() {
        let mut m = disk_machine(&[]);
        m.block_io_error("ide0-hd0", IoOperation::Write, IoErrno::Eio)
            .unwrap();
        assert_eq!(
            events(&mut m),
            [Event::BlockIoError {
                device: "ide0-hd0".into(),
                action: IoErrorOutcome::Report,
                operation: IoOperation::Write,
            }]
        );
    }

    #[test]
    fn block_error_default_write_enospc_stops_the_vm() {
        let mut m = disk_machine(&[]);
        m.block_io_error("ide0-hd0", IoOperation::Write, IoErrno::Enospc)
            .unwrap();
        assert_eq!(names(&mut m), ["BLOCK_IO_ERROR", "STOP"]);
        assert_eq!(m.run_state, RunState::Paused);
    }

    #[test]
    fn block_error_rerror_ignore_keeps_running() {
        let mut m = disk_machine(&[("rerror", "ignore")]);
        m.block_io_error("ide0-hd0", IoOperation::Read, IoErrno::Eio)
            .unwrap();
        assert!(matches!(
            events(&mut m)[0],
            Event::BlockIoError {
                action: IoErrorOutcome::Ignore,
                ..
            }
        ));
        assert_eq!(m.run_state, RunState::Running);
    }

    #[test]
    fn block_error_stop_when_paused_emits_no_stop() {
        let mut m = disk_machine(&[("werror", "stop")]);
        m.vm_stop();
        m.events.drain();
        m.block_io_error("ide0-hd0", IoOperation::Write, IoErrno::Eio)
            .unwrap();
        assert_eq!(names(&mut m), ["BLOCK_IO_ERROR"]);
    }

    #[test]
    fn block_error_needs_a_drive_with_a_medium() {
        for (drive, class) in [
            ("nosuch", ErrorClass::DeviceNotFound),
            ("ide1-cd0", ErrorClass::DeviceNotActive),
        ] {
            let mut m = disk_machine(&[]);
            assert_eq!(
                m.block_io_error(drive, IoOperation::Read, IoErrno::Eio),
                Err(QmpError::with1(class, drive))
            );
        }
    }

    #[test]
    fn rtc_set_emits_offset_and_keeps_it() {
        let mut m = Machine::new(MachineConfig::default());
        m.rtc_set(-3600).unwrap();
        assert_eq!(events(&mut m), [Event::RtcChange { offset_s: -3600 }]);
        assert_eq!(m.rtc.offset_s, -3600);
    }

    #[test]
    fn rtc_set_takes_offsets_in_the_int_range_only() {
        use crate::machine::rtc::{RTC_OFFSET_S_MAX, RTC_OFFSET_S_MIN};
        let invalid = QmpError::with2(
            ErrorClass::InvalidParameterValue,
            "offset",
            "a number of seconds that fits in 32 bits",
        );
        for (offset, want) in [
            (RTC_OFFSET_S_MAX, Ok(())),
            (RTC_OFFSET_S_MIN, Ok(())),
            (RTC_OFFSET_S_MIN - 1, Err(invalid.clone())),
            (RTC_OFFSET_S_MAX + 1, Err(invalid)),
        ] {
            let mut m = Machine::new(MachineConfig::default());
            assert_eq!(m.rtc_set(offset), want, "{offset}");
        }
    }

    #[test]
    fn watchdog_option_adds_the_device() {
        let m = watchdog_machine("reset");
        assert!(m.has_watchdog());
    }

    #[test]
    fn watchdog_expire_without_watchdog_is_not_active() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            m.watchdog_expire(),
            Err(QmpError::with1(ErrorClass::DeviceNotActive, "watchdog"))
        );
    }

    #[test]
    fn watchdog_reset_queues_a_reset_request() {
        let mut m = watchdog_machine("reset");
        m.watchdog_expire().unwrap();
        assert_eq!(
            events(&mut m),
            [Event::Watchdog {
                action: WatchdogAction::Reset
            }]
        );
        assert_eq!(m.requests, [Request::Reset]);
    }

    #[test]
    fn watchdog_shutdown_queues_a_powerdown_request() {
        let mut m = watchdog_machine("shutdown");
        m.watchdog_expire().unwrap();
        assert_eq!(m.requests, [Request::Powerdown]);
    }

    #[test]
    fn watchdog_poweroff_exits_without_shutdown_event() {
        let mut m = watchdog_machine("poweroff");
        m.watchdog_expire().unwrap();
        assert_eq!(names(&mut m), ["WATCHDOG"]);
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn watchdog_pause_stops_the_vm() {
        let mut m = watchdog_machine("pause");
        m.watchdog_expire().unwrap();
        assert_eq!(names(&mut m), ["WATCHDOG", "STOP"]);
    }

    #[test]
    fn watchdog_debug_prints_on_stderr() {
        let mut m = watchdog_machine("debug");
        m.watchdog_expire().unwrap();
        assert_eq!(
            m.effects,
            [Effect::Stderr {
                text: "watchdog: timer fired\n".into()
            }]
        );
    }

    #[test]
    fn watchdog_none_only_emits_the_event() {
        let mut m = watchdog_machine("none");
        m.watchdog_expire().unwrap();
        assert_eq!(names(&mut m), ["WATCHDOG"]);
        assert!(m.requests.is_empty() && m.effects.is_empty());
        assert_eq!(m.run_state, RunState::Running);
    }
}
