//! QR codes of `otpauth://` URIs (feature `qr`), for the enrollment screen.

use alloc::string::String;
use alloc::vec::Vec;

use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::uri::OtpAuthUri;

/// Pixels per QR module in the PNG rendering.
const PNG_MODULE_PIXELS: usize = 8;
/// The quiet zone around the code, in modules (ISO/IEC 18004 asks for four).
const QUIET_ZONE_MODULES: usize = 4;

/// Why a QR code could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The URI is too long for a QR code.
    #[error("the URI is too long to fit in a QR code")]
    TooLong,
    /// The PNG encoder failed.
    #[error("the PNG encoder failed")]
    Png,
}

impl OtpAuthUri {
    fn qr_code(&self) -> Result<QrCode, QrError> {
        let text = Zeroizing::new(self.to_uri_string());
        // Medium error correction: readable from a screen at a slant, still small.
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|_| QrError::TooLong)
    }

    /// The URI as a QR code in an SVG document (black on white, with quiet zone),
    /// ready to inline into an HTML page.
    pub fn to_qr_svg(&self) -> Result<String, QrError> {
        Ok(self
            .qr_code()?
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build())
    }

    /// The URI as a QR code in a PNG image (8-bit grayscale, 8 pixels per module).
    pub fn to_qr_png(&self) -> Result<Vec<u8>, QrError> {
        let code = self.qr_code()?;
        let modules = code.width();
        let colors = code.to_colors();
        let side_modules = modules + 2 * QUIET_ZONE_MODULES;
        let side = side_modules * PNG_MODULE_PIXELS;
        let mut pixels = Vec::with_capacity(side * side);
        for y in 0..side {
            let my = (y / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
            for x in 0..side {
                let mx = (x / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
                let dark = match (mx, my) {
                    (Some(mx), Some(my)) if mx < modules && my < modules => {
                        colors.get(my * modules + mx) == Some(&Color::Dark)
                    }
                    _ => false,
                };
                pixels.push(if dark { 0u8 } else { 255u8 });
            }
        }
        let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|_| QrError::Png)?;
        writer.write_image_data(&pixels).map_err(|_| QrError::Png)?;
        writer.finish().map_err(|_| QrError::Png)?;
        Ok(out)
    }

    /// The URI as a QR code drawn with Unicode half blocks, for a terminal.
    pub fn to_qr_terminal(&self) -> Result<String, QrError> {
        Ok(self
            .qr_code()?
            .render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .build())
    }
}
