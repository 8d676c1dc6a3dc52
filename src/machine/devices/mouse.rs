//! Mouse event handlers (0.14 input.c): the list `query-mice` prints.
//!
//! A `Vec` in handler-list order: new handlers go to the tail, an activated one
//! moves to the head, and the head is the `current` mouse. Indexes come from one
//! counter that never goes back, as 0.14's static `mouse_index`.

use serde::{Deserialize, Serialize};

/// One registered handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mouse {
    /// Registration index.
    pub index: u32,
    /// Handler name.
    pub name: String,
    /// Absolute positioning.
    pub absolute: bool,
    /// The qdev device that registered it, if any.
    pub device: Option<u64>,
}

/// The handler list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mice {
    /// Handlers, head first.
    pub handlers: Vec<Mouse>,
    /// The next index to hand out.
    pub next_index: u32,
}

impl Mice {
    /// `qemu_add_mouse_event_handler`: appends; returns the index.
    pub fn add(&mut self, name: &str, absolute: bool, device: Option<u64>) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        self.handlers.push(Mouse {
            index,
            name: name.to_owned(),
            absolute,
            device,
        });
        index
    }

    /// `qemu_activate_mouse_event_handler`: moves a handler to the head.
    pub fn activate(&mut self, index: u32) {
        if let Some(pos) = self.handlers.iter().position(|m| m.index == index) {
            let m = self.handlers.remove(pos);
            self.handlers.insert(0, m);
        }
    }

    /// Removes the handlers a device registered.
    pub fn remove_device(&mut self, device: u64) {
        self.handlers.retain(|m| m.device != Some(device));
    }

    /// The handler of a device, if it registered one.
    pub fn of_device(&self, device: u64) -> Option<u32> {
        self.handlers
            .iter()
            .find(|m| m.device == Some(device))
            .map(|m| m.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_device_finds_the_devices_handler() {
        let mut m = Mice::default();
        m.add("QEMU PS/2 Mouse", false, None);
        m.add("QEMU USB Tablet", true, Some(5));
        assert_eq!([m.of_device(5), m.of_device(6)], [Some(1), None]);
    }

    #[test]
    fn add_appends_with_increasing_index() {
        let mut m = Mice::default();
        m.add("QEMU PS/2 Mouse", false, None);
        let i = m.add("QEMU USB Tablet", true, Some(5));
        assert_eq!(i, 1);
        assert_eq!(m.handlers[0].name, "QEMU PS/2 Mouse");
    }

    #[test]
    fn activate_moves_to_head() {
        let mut m = Mice::default();
        m.add("a", false, None);
        let i = m.add("b", true, Some(5));
        m.activate(i);
        assert_eq!(m.handlers[0].name, "b");
    }

    #[test]
    fn remove_device_keeps_counter() {
        let mut m = Mice::default();
        m.add("b", true, Some(5));
        m.remove_device(5);
        assert!(m.handlers.is_empty());
        assert_eq!(m.add("c", false, None), 1);
    }
}
