//! Debian version ordering (deb-version(7)), as dpkg and apt compare them.
//!
//! `[epoch:]upstream[-revision]`: the epoch compares as a number, then the
//! upstream part, then the revision, each with dpkg's `verrevcmp`: runs of
//! non-digits compare character by character with letters before other
//! characters and `~` before everything, even the end of the string; runs of
//! digits compare as numbers.

use std::cmp::Ordering;

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb).then_with(|| verrevcmp(ua, ub)).then_with(|| verrevcmp(ra, rb))
}

/// Epoch, upstream version and revision. A missing or malformed epoch is 0,
/// the revision is what follows the last `-` (none: empty), as in dpkg's `parseversion`.
fn split(v: &str) -> (u64, &[u8], &[u8]) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (
            e.bytes()
                .fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))),
            rest,
        ),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream.as_bytes(), revision.as_bytes()),
        None => (epoch, rest.as_bytes(), b""),
    }
}

/// Weight of a non-digit position; `None` is the end of the string.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_known_pairs() {
        let table = [
            ("1.0~rc1", "1.0", Less),
            ("1:0.9", "2.0", Greater),
            ("2.36-9", "2.36-9+deb12u4", Less),
            ("2.36-9+deb12u3", "2.36-9+deb12u4", Less),
            ("2.36-9+deb12u10", "2.36-9+deb12u9", Greater),
            ("1.0", "1.0", Equal),
            ("0:1.0", "1.0", Equal),
            ("1.0-1", "1.0-01", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0~", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~~a", "1.0~~", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0+", "1.0.", Less),
            ("1.10", "1.9", Greater),
            ("1.2.3", "1.2.3.0", Less),
            ("7.4.052", "7.4.52", Equal),
            ("1:2.36-9", "3:1.0", Less),
            ("2.0-1ubuntu0.1", "2.0-1", Greater),
            ("2.0-1ubuntu0.22.04.1", "2.0-1ubuntu0.22.04.2", Less),
            ("5.15.0-91.101", "5.15.0-101.111", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1", Greater),
            ("1.4.6+dfsg-0+deb12u1", "1.4.6+dfsg-0+deb12u1", Equal),
            ("22.01+really26.02+dfsg-0+deb12u1", "22.01+dfsg-8", Greater),
            ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u7", Less),
            ("2:8.39-15", "8.45-1", Greater),
            ("a", "", Greater),
            ("", "", Equal),
            ("1-2-3", "1-2-4", Less),
            ("1-2-3", "1-3", Greater),
        ];
        for (a, b, want) in table {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn splits_epoch_upstream_revision() {
        assert_eq!(split("1:2.0-3"), (1, &b"2.0"[..], &b"3"[..]));
        assert_eq!(split("2.0"), (0, &b"2.0"[..], &b""[..]));
        assert_eq!(split("1-2-3"), (0, &b"1-2"[..], &b"3"[..]));
        // Not an epoch: upstream versions may contain colons only after a real epoch, keep it whole.
        assert_eq!(split("a:1-2").0, 0);
    }
}
