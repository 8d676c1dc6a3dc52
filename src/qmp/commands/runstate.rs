//! Run-state commands: quit, stop, cont (qmp-commands.hx section 2).
//! STOP and RESUME are queued inside the handler, so they reach clients before the
//! response; `quit` queues a shutdown request that the engine runs after it.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::{Request, RunState};
use crate::wire::{ErrorClass, QmpError};

/// `quit`: response, then SHUTDOWN, then exit (even with `-no-shutdown`).
pub fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine
        .requests
        .push(Request::Shutdown { force_exit: true });
    empty()
}

/// `stop`: always succeeds; STOP first if the VM was running.
pub fn stop(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine.vm_stop();
    empty()
}

/// `cont`: MigrationExpected while waiting for `-incoming`; DeviceEncrypted for
/// the first drive still needing a key; else RESUME first if stopped.
pub fn cont(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    if ctx.machine.run_state == RunState::InMigrate {
        return Err(QmpError::bare(ErrorClass::MigrationExpected));
    }
    if let Some(drive) = ctx.machine.devices.block.first_key_required() {
        return Err(QmpError::with1(ErrorClass::DeviceEncrypted, drive));
    }
    ctx.machine.vm_start();
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qobject::QDict;

    fn run(cfg: MachineConfig, h: super::super::Handler) -> (Machine, HandlerResult) {
        let mut m = Machine::new(cfg);
        let r = super::super::call_fresh(&mut m, h, &QDict::new());
        (m, r)
    }

    #[test]
    fn cont_when_incoming_expected_returns_migration_expected() {
        let cfg = MachineConfig {
            incoming: Some("tcp:0:4446".into()),
            ..Default::default()
        };
        let (_, r) = run(cfg, cont);
        assert_eq!(r, Err(QmpError::bare(ErrorClass::MigrationExpected)));
    }

    #[test]
    fn cont_when_already_running_returns_ok_without_event() {
        let (mut m, r) = run(MachineConfig::default(), cont);
        assert!(r.is_ok());
        assert!(m.events.drain().is_empty());
    }

    #[test]
    fn cont_with_encrypted_drive_without_key_is_device_encrypted() {
        use crate::machine::config::{DriveConfig, ImageInfo, ImageProbe};
        let mut d = DriveConfig::default();
        d.opts.push("file", "enc.qcow2");
        d.opts.push("index", "0");
        d.probe = Some(ImageProbe::Found(ImageInfo {
            format: "qcow2".into(),
            size_bytes: 1 << 20,
            backing_file: None,
            encrypted: true,
        }));
        let cfg = MachineConfig {
            drives: vec![d],
            ..Default::default()
        };
        let (m, r) = run(cfg, cont);
        assert_eq!(
            r,
            Err(QmpError::with1(ErrorClass::DeviceEncrypted, "ide0-hd0"))
        );
        assert_eq!(m.run_state, RunState::Paused);
    }

    #[test]
    fn quit_queues_forced_shutdown() {
        let (m, _) = run(MachineConfig::default(), quit);
        assert_eq!(m.requests, [Request::Shutdown { force_exit: true }]);
    }
}
