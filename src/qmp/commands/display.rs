//! Display commands. Placeholder for the VNC part of `change`; the display
//! commands proper are implemented elsewhere.

use super::{Ctx, HandlerResult};
use crate::wire::{ErrorClass, QmpError};

/// `change vnc ...`: without a VNC server every target fails.
pub fn change_vnc(ctx: &mut Ctx<'_>, target: &str, arg: Option<&str>) -> HandlerResult {
    let _ = (ctx, arg);
    Err(QmpError::with1(ErrorClass::VNCServerFailed, target))
}
