//! The screen `screendump` saves (0.14's `hw/vga.c` PPM dump): VGA text mode
//! until the guest has booted, then its graphical desktop, with pixels that
//! are a pure function of the seed.

use serde::{Deserialize, Serialize};

use crate::machine::clock::VirtualTime;

/// Text mode screen size (80x25 cells of 9x16 pixels), before the guest runs.
pub const TEXT_MODE_PX: (u32, u32) = (720, 400);
/// Graphics mode screen size, once the guest has booted.
pub const GRAPHICS_MODE_PX: (u32, u32) = (1024, 768);
/// Virtual time the guest runs before it leaves VGA text mode.
pub const BOOT_TO_GRAPHICS_NS: u64 = 5 * VirtualTime::NS_PER_S;

/// VGA mode, which decides the screen size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenMode {
    /// 80x25 text, 720x400 pixels.
    Text,
    /// The guest's graphical desktop, 1024x768 pixels.
    Graphics,
}

impl ScreenMode {
    /// Width and height in pixels.
    pub fn size_px(self) -> (u32, u32) {
        match self {
            ScreenMode::Text => TEXT_MODE_PX,
            ScreenMode::Graphics => GRAPHICS_MODE_PX,
        }
    }
}

/// The screen: text mode until the guest has run [`BOOT_TO_GRAPHICS_NS`] since
/// it was last started from firmware (machine start or reset).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Screen {
    /// When the guest last started booting; `None` while it never ran (`-S`).
    pub boot_started_at: Option<VirtualTime>,
}

impl Screen {
    /// The mode at virtual time `now`.
    pub fn mode(&self, now: VirtualTime) -> ScreenMode {
        match self.boot_started_at {
            Some(t) if now.0.saturating_sub(t.0) >= BOOT_TO_GRAPHICS_NS => ScreenMode::Graphics,
            Some(_) | None => ScreenMode::Text,
        }
    }
}

/// A binary PPM (P6) of the screen in `mode`, pixels derived from the seed:
/// text mode shows a few light-grey "characters" on black, graphics mode a
/// gradient tinted by the seed.
pub fn render_ppm(seed: u64, mode: ScreenMode) -> Vec<u8> {
    let (w, h) = mode.size_px();
    let header = format!("P6\n{w} {h}\n255\n");
    let pixels = usize::try_from(u64::from(w) * u64::from(h) * 3).unwrap_or(0);
    let mut out = Vec::with_capacity(header.len() + pixels);
    out.extend_from_slice(header.as_bytes());
    let tint = seed.to_le_bytes();
    for y in 0..h {
        for x in 0..w {
            out.extend_from_slice(&pixel(seed, &tint, mode, (x, y), (w, h)));
        }
    }
    out
}

fn pixel(seed: u64, tint: &[u8; 8], mode: ScreenMode, xy: (u32, u32), wh: (u32, u32)) -> [u8; 3] {
    let (x, y) = xy;
    match mode {
        ScreenMode::Text => {
            let (col, row) = (x / 9, y / 16);
            let lit =
                row < 2 && x % 9 < 8 && (seed.rotate_left(col % 64) ^ u64::from(row)) & 1 == 1;
            if lit {
                [0xAA, 0xAA, 0xAA]
            } else {
                [0, 0, 0]
            }
        }
        ScreenMode::Graphics => {
            let gx = u8::try_from(x * 255 / wh.0.max(1)).unwrap_or(u8::MAX);
            let gy = u8::try_from(y * 255 / wh.1.max(1)).unwrap_or(u8::MAX);
            [gx ^ tint[0], gy ^ tint[1], tint[2]]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_before_boot_is_text_mode() {
        let s = Screen::default();
        assert_eq!(s.mode(VirtualTime(u64::MAX)), ScreenMode::Text);
    }

    #[test]
    fn screen_at_boot_delay_is_graphics_mode() {
        let s = Screen {
            boot_started_at: Some(VirtualTime(7)),
        };
        assert_eq!(
            s.mode(VirtualTime(7 + BOOT_TO_GRAPHICS_NS - 1)),
            ScreenMode::Text
        );
        assert_eq!(
            s.mode(VirtualTime(7 + BOOT_TO_GRAPHICS_NS)),
            ScreenMode::Graphics
        );
    }

    #[test]
    fn render_ppm_has_p6_header_and_full_size() {
        let ppm = render_ppm(1, ScreenMode::Text);
        assert!(ppm.starts_with(b"P6\n720 400\n255\n"));
        assert_eq!(ppm.len(), "P6\n720 400\n255\n".len() + 720 * 400 * 3);
    }

    /// The pixels of a rendered PPM, as rows of RGB triples.
    fn rows(mode: ScreenMode, seed: u64) -> Vec<Vec<[u8; 3]>> {
        let (w, h) = mode.size_px();
        let ppm = render_ppm(seed, mode);
        let header = format!("P6\n{w} {h}\n255\n").len();
        ppm[header..]
            .chunks(3 * w as usize)
            .map(|row| row.chunks(3).map(|p| [p[0], p[1], p[2]]).collect())
            .collect()
    }

    #[test]
    fn text_mode_lights_characters_in_the_first_two_text_rows_only() {
        let rows = rows(ScreenMode::Text, 0x5555_5555_5555_5555);
        // A character is 8 pixels wide in a cell of 9: the ninth stays black.
        assert!(rows
            .iter()
            .all(|row| row.iter().skip(8).step_by(9).all(|&p| p == [0, 0, 0])));
        let lit: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| row.contains(&[0xAA, 0xAA, 0xAA]))
            .map(|(y, _)| y)
            .collect();
        assert_eq!(lit, (0..32).collect::<Vec<_>>());
    }

    #[test]
    fn each_text_cell_is_lit_by_one_seed_bit_and_the_second_row_inverts_it() {
        // Seed 1: of the 64 cells a bit each, only cell 0 (and 64) is set.
        let rows = rows(ScreenMode::Text, 1);
        let lit = |y: usize, x: usize| rows[y][x] == [0xAA, 0xAA, 0xAA];
        let cell = |y: usize, c: usize| (c * 9..c * 9 + 8).map(|x| lit(y, x)).collect::<Vec<_>>();
        assert_eq!(cell(0, 0), [true; 8]);
        assert_eq!(cell(0, 1), [false; 8]);
        assert_eq!(cell(0, 64), [true; 8]);
        assert_eq!(cell(16, 0), [false; 8]);
        assert_eq!(cell(16, 1), [true; 8]);
    }

    #[test]
    fn graphics_mode_is_a_gradient_down_and_across_tinted_by_the_seed() {
        let seed = 0x0030_2010;
        let rows = rows(ScreenMode::Graphics, seed);
        let (w, h) = ScreenMode::Graphics.size_px();
        let untinted = |p: [u8; 3]| [p[0] ^ 0x10, p[1] ^ 0x20, p[2] ^ 0x30];
        assert_eq!(untinted(rows[0][0]), [0, 0, 0]);
        let bottom_right = untinted(rows[h as usize - 1][w as usize - 1]);
        assert!(
            bottom_right[0] >= 254 && bottom_right[1] >= 254,
            "{bottom_right:?}"
        );
        assert_eq!(untinted(rows[h as usize / 2][0]), [0, 127, 0]);
    }

    #[test]
    fn render_ppm_depends_on_seed() {
        assert_ne!(
            render_ppm(1, ScreenMode::Graphics),
            render_ppm(2, ScreenMode::Graphics)
        );
    }
}
