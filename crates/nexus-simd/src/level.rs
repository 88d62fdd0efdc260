//! SIMD levels, CPU detection and the `NEXUS_SIMD` cap.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The name of the environment variable that caps the SIMD level.
pub const ENV_VAR: &str = "NEXUS_SIMD";

/// A family of kernels, ordered from the most portable to the widest.
///
/// - `Avx2`: AVX2 + FMA + POPCNT (Haswell, Zen 1 and later).
/// - `Avx512`: AVX-512 F, BW, VL, VNNI and VPOPCNTDQ (Ice Lake / Sapphire Rapids Xeons, Zen 4).
///   Older AVX-512 parts without VNNI or VPOPCNTDQ (Skylake-SP, Cascade Lake) run `Avx2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// Portable Rust, no intrinsics.
    Scalar,
    /// AVX2 + FMA, 256-bit.
    Avx2,
    /// AVX-512 F/BW/VL/VNNI/VPOPCNTDQ, 512-bit.
    Avx512,
}

impl Level {
    /// Every level, narrowest first.
    pub const ALL: [Level; 3] = [Level::Scalar, Level::Avx2, Level::Avx512];

    /// The lowercase name, as accepted by `NEXUS_SIMD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Level::Scalar => true,
            Level::Avx2 => has_avx2(),
            Level::Avx512 => has_avx512(),
        }
    }

    /// The widest level this CPU supports.
    pub fn detect() -> Level {
        Level::ALL
            .into_iter()
            .rev()
            .find(|l| l.is_supported())
            .unwrap_or(Level::Scalar)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "avx2" => Ok(Level::Avx2),
            "avx512" => Ok(Level::Avx512),
            _ => Err(Error::UnknownLevel {
                value: s.to_owned(),
            }),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("popcnt")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    has_avx2()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

/// Parses a `NEXUS_SIMD` value against this CPU: `Ok(None)` for an unset or empty value.
pub(crate) fn parse_request(value: Option<&str>) -> Result<Option<Level>, Error> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let requested: Level = value.parse()?;
    if requested.is_supported() {
        Ok(Some(requested))
    } else {
        Err(Error::UnsupportedLevel {
            requested,
            available: Level::detect(),
        })
    }
}

/// The cap the dispatcher applies: the request if valid, else the detected level with a
/// warning on stderr (an invalid value must be visible, but must not stop a program).
pub(crate) fn resolve_cap() -> Level {
    let value = std::env::var(ENV_VAR).ok();
    match parse_request(value.as_deref()) {
        Ok(Some(level)) => level,
        Ok(None) => Level::detect(),
        Err(Error::UnsupportedLevel {
            requested,
            available,
        }) => {
            eprintln!(
                "nexus-simd: {ENV_VAR}={requested} is not supported by this CPU; using {available}"
            );
            available
        }
        Err(e) => {
            let level = Level::detect();
            eprintln!("nexus-simd: {e}; ignoring it and using {level}");
            level
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_level_and_rejects_the_rest() {
        assert_eq!(parse_request(None), Ok(None));
        assert_eq!(parse_request(Some("  ")), Ok(None));
        assert_eq!(parse_request(Some("scalar")), Ok(Some(Level::Scalar)));
        for level in Level::ALL {
            let parsed = parse_request(Some(&level.as_str().to_uppercase()));
            if level.is_supported() {
                assert_eq!(parsed, Ok(Some(level)));
            } else {
                assert_eq!(
                    parsed,
                    Err(Error::UnsupportedLevel {
                        requested: level,
                        available: Level::detect()
                    })
                );
            }
        }
        assert_eq!(
            parse_request(Some("avx1024")),
            Err(Error::UnknownLevel {
                value: "avx1024".into()
            })
        );
        assert!(Level::Scalar < Level::Avx2 && Level::Avx2 < Level::Avx512);
        assert!(Level::detect().is_supported());
    }
}
