//! Local wall-clock times of log and state files, turned into instants with
//! the machine's time zone (`/etc/localtime`, a TZif file, RFC 8536).
//!
//! dpkg, apt and wazuh-agentd write local time without an offset; on a
//! machine set to Asia/Ho_Chi_Minh reading them as UTC would move every
//! update seven hours. Past the last transition of the file the last offset
//! is kept: Debian's tzdata is built "fat", with transitions written out to
//! 2037, so this only matters for "slim" files in zones that still change
//! to summer time (an hour off for half the year).

use khien_proto::Timestamp;
use time::PrimitiveDateTime;

/// The UTC offsets of a time zone, in seconds, by transition time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Zone {
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition (RFC 8536: local time type 0).
    initial: i32,
}

impl Zone {
    pub fn utc() -> Self {
        Zone::default()
    }

    /// The zone of the machine under `root`; UTC when there is none (the C
    /// library's default) or it cannot be read.
    pub fn of_machine(root: &super::root::Root) -> Zone {
        std::fs::read(root.path("/etc/localtime"))
            .ok()
            .and_then(|data| Zone::parse(&data))
            .unwrap_or_else(Zone::utc)
    }

    /// Parses a TZif file; `None` when it is not one.
    pub fn parse(data: &[u8]) -> Option<Zone> {
        let header = Header::read(data)?;
        // Version 2 and later repeat the data with 64-bit times after the version 1 block.
        let (header, body, time_size) = if header.version >= b'2' {
            let second = data.get(header.block_len(4)..)?;
            (Header::read(second)?, second.get(44..)?, 8)
        } else {
            (header, data.get(44..)?, 4)
        };
        let times_len = header.timecnt * time_size;
        let times = body.get(..times_len)?;
        let indices = body.get(times_len..times_len + header.timecnt)?;
        let types = body.get(times_len + header.timecnt..times_len + header.timecnt + header.typecnt * 6)?;
        let offset_of = |i: usize| -> Option<i32> {
            let t = types.get(i * 6..i * 6 + 4)?;
            Some(i32::from_be_bytes([t[0], t[1], t[2], t[3]]))
        };
        let mut transitions = Vec::with_capacity(header.timecnt);
        for (k, &index) in indices.iter().enumerate() {
            let raw = &times[k * time_size..(k + 1) * time_size];
            let at = if time_size == 8 {
                i64::from_be_bytes(raw.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(raw.try_into().ok()?))
            };
            transitions.push((at, offset_of(usize::from(index))?));
        }
        Some(Zone {
            transitions,
            initial: offset_of(0).unwrap_or(0),
        })
    }

    fn offset_at(&self, unix: i64) -> i32 {
        match self.transitions.partition_point(|&(at, _)| at <= unix) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    /// The instant a local wall-clock time names. In the hour repeated when
    /// clocks go back this picks one of the two; an hour does not matter here.
    pub fn to_instant(&self, local: PrimitiveDateTime) -> Option<Timestamp> {
        let naive = local.assume_utc().unix_timestamp();
        let guess = naive - i64::from(self.offset_at(naive));
        Timestamp::from_unix(naive - i64::from(self.offset_at(guess)))
    }
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(data: &[u8]) -> Option<Header> {
        if data.get(..4)? != b"TZif" {
            return None;
        }
        let count = |k: usize| -> Option<usize> {
            let b = data.get(20 + 4 * k..24 + 4 * k)?;
            usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
        };
        Some(Header {
            version: *data.get(4)?,
            isutcnt: count(0)?,
            isstdcnt: count(1)?,
            leapcnt: count(2)?,
            timecnt: count(3)?,
            typecnt: count(4)?,
            charcnt: count(5)?,
        })
    }

    /// Length of this header and its data block, with times of `time_size` bytes.
    fn block_len(&self, time_size: usize) -> usize {
        44 + self.timecnt * time_size
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` (any run of spaces between date and time, as
/// apt's history writes two).
pub fn parse_local(text: &str) -> Option<PrimitiveDateTime> {
    let (date, time) = text.trim().split_once(' ')?;
    let num = |s: &str| -> Option<u32> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let mut t = time.trim_start().splitn(3, ':');
    let (h, mi, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    let date = time::Date::from_calendar_date(
        i32::try_from(y).ok()?,
        time::Month::try_from(u8::try_from(mo).ok()?).ok()?,
        u8::try_from(da).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms(u8::try_from(h).ok()?, u8::try_from(mi).ok()?, u8::try_from(s).ok()?).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

#[cfg(test)]
/// A version 2 TZif file: the empty version 1 block, then one zone type at
/// `offset` from `since` on, and `before` earlier.
pub fn tzif(before: i32, since: i64, offset: i32) -> Vec<u8> {
    let header = |timecnt: u32, typecnt: u32, charcnt: u32| {
        let mut h = b"TZif2".to_vec();
        h.extend_from_slice(&[0; 15]);
        for n in [0, 0, 0, timecnt, typecnt, charcnt] {
            h.extend_from_slice(&u32::to_be_bytes(n));
        }
        h
    };
    let mut f = header(0, 1, 4);
    f.extend_from_slice(&before.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(b"LMT\0");
    f.extend(header(1, 2, 8));
    f.extend_from_slice(&since.to_be_bytes());
    f.push(1);
    for (off, idx) in [(before, 0u8), (offset, 4)] {
        f.extend_from_slice(&off.to_be_bytes());
        f.extend_from_slice(&[0, idx]);
    }
    f.extend_from_slice(b"LMT\0+07\0");
    f.extend_from_slice(b"\n<+07>-7\n");
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_times_in_the_zone_of_the_file() {
        let zone = Zone::parse(&tzif(25_590, 0, 7 * 3600)).unwrap();
        let local = parse_local("2026-11-20 10:31:02").unwrap();
        assert_eq!(zone.to_instant(local).unwrap().to_string(), "2026-11-20T03:31:02Z");
        // Before the first transition the first type applies.
        let old = parse_local("1960-01-01 07:06:30").unwrap();
        assert_eq!(zone.to_instant(old).unwrap().to_string(), "1960-01-01T00:00:00Z");
        assert_eq!(Zone::utc().to_instant(local).unwrap().to_string(), "2026-11-20T10:31:02Z");
    }

    #[test]
    fn reads_the_zone_of_this_machine_when_there_is_one() {
        if let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Paris") {
            let zone = Zone::parse(&data).unwrap();
            let summer = parse_local("2026-07-01 12:00:00").unwrap();
            let winter = parse_local("2026-12-01 12:00:00").unwrap();
            assert_eq!(zone.to_instant(summer).unwrap().to_string(), "2026-07-01T10:00:00Z");
            assert_eq!(zone.to_instant(winter).unwrap().to_string(), "2026-12-01T11:00:00Z");
        }
        assert_eq!(Zone::parse(b"not a zone"), None);
    }

    #[test]
    fn parses_log_times() {
        assert!(parse_local("2026-11-22  22:20:08").is_some());
        assert!(parse_local("2026-13-22 22:20:08").is_none());
        assert!(parse_local("2026-11-22").is_none());
        assert!(parse_local("yesterday at noon").is_none());
    }
}
