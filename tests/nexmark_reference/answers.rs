//! What each Nexmark query means, computed the plain way: loops and maps
//! over the generated events, following the query's text in
//! `bench/nexmark` (itself the reference suite's semantics). Each answer
//! gives the columns of Faro's output it is compared with, by position,
//! and computes exactly those.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use faro_runtime::nexmark::Bid;
use faro_runtime::Value;

use super::Events;

/// One query's answer.
pub struct Answer {
    /// The query's file name in `bench/nexmark`.
    pub query: &'static str,
    /// The output columns compared, by position.
    pub compared: Vec<usize>,
    /// The compared columns of every row the query ends with.
    pub compute: fn(&Events) -> Vec<Vec<Value>>,
}

const SECOND: i64 = 1000;

fn int(x: i64) -> Value {
    Value::Int64(x)
}

fn time(ms: i64) -> Value {
    Value::Timestamp(ms)
}

fn text(s: &str) -> Value {
    Value::Utf8(s.to_string())
}

/// `DATE_FORMAT(t, 'yyyy-MM-dd')` in UTC (the civil-from-days algorithm).
fn day(ms: i64) -> String {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `DATE_FORMAT(t, 'HH:mm')` in UTC.
fn minute(ms: i64) -> String {
    let hour = ms.div_euclid(3_600_000).rem_euclid(24);
    format!("{hour:02}:{:02}", ms.div_euclid(60_000).rem_euclid(60))
}

/// `REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)`: the first
/// `channel_id` parameter's value, from the start or after a `&`.
fn channel_id(url: &str) -> Option<&str> {
    let mut at = 0;
    while let Some(found) = url[at..].find("channel_id=") {
        let start = at + found;
        if start == 0 || url.as_bytes()[start - 1] == b'&' {
            let value = &url[start + "channel_id=".len()..];
            return Some(value.split('&').next().unwrap_or(""));
        }
        at = start + 1;
    }
    None
}

/// Bids of each auction made while it was open, by auction id.
fn open_bids(e: &Events) -> HashMap<i64, Vec<&Bid>> {
    let auctions: HashMap<i64, (i64, i64)> = e
        .auctions
        .iter()
        .map(|a| (a.id, (a.date_time, a.expires)))
        .collect();
    let mut bids: HashMap<i64, Vec<&Bid>> = HashMap::new();
    for b in &e.bids {
        if let Some(&(opened, expires)) = auctions.get(&b.auction) {
            if (opened..=expires).contains(&b.date_time) {
                bids.entry(b.auction).or_default().push(b);
            }
        }
    }
    bids
}

/// The counts q15–q17 take over a group's bids: all, and each price rank.
fn rank_counts(bids: &[&Bid]) -> [usize; 4] {
    let rank = |low: i64, high: i64| {
        bids.iter()
            .filter(|b| b.price >= low && b.price < high)
            .count()
    };
    [
        bids.len(),
        rank(i64::MIN, 10_000),
        rank(10_000, 1_000_000),
        rank(1_000_000, i64::MAX),
    ]
}

/// Distinct values of `of` over a group's bids, all and per price rank.
fn rank_distinct(bids: &[&Bid], of: fn(&Bid) -> i64) -> [usize; 4] {
    let distinct = |low: i64, high: i64| {
        bids.iter()
            .filter(|b| b.price >= low && b.price < high)
            .map(|b| of(b))
            .collect::<BTreeSet<_>>()
            .len()
    };
    [
        distinct(i64::MIN, i64::MAX),
        distinct(i64::MIN, 10_000),
        distinct(10_000, 1_000_000),
        distinct(1_000_000, i64::MAX),
    ]
}

/// q15's and q16's twelve counts over a group's bids: bids, bidders and
/// auctions, each in all and per price rank.
fn bidding_statistics(bids: &[&Bid]) -> Vec<Value> {
    rank_counts(bids)
        .into_iter()
        .chain(rank_distinct(bids, |b| b.bidder))
        .chain(rank_distinct(bids, |b| b.auction))
        .map(|n| int(n as i64))
        .collect()
}

fn q0(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .map(|b| {
            vec![
                int(b.auction),
                int(b.bidder),
                int(b.price),
                time(b.date_time),
                text(&b.extra),
            ]
        })
        .collect()
}

fn q1(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .map(|b| {
            let price = Value::Float64(0.908 * b.price as f64);
            vec![int(b.auction), int(b.bidder), price, time(b.date_time)]
        })
        .collect()
}

fn q2(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .filter(|b| b.auction % 123 == 0)
        .map(|b| vec![int(b.auction), int(b.price)])
        .collect()
}

fn q3(e: &Events) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for a in e.auctions.iter().filter(|a| a.category == 10) {
        for p in &e.persons {
            if p.id == a.seller && ["OR", "ID", "CA"].contains(&p.state.as_str()) {
                rows.push(vec![
                    text(&p.name),
                    text(&p.city),
                    text(&p.state),
                    int(a.id),
                ]);
            }
        }
    }
    rows
}

fn q4(e: &Events) -> Vec<Vec<Value>> {
    let bids = open_bids(e);
    let mut finals: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for a in &e.auctions {
        if let Some(max) = bids
            .get(&a.id)
            .and_then(|b| b.iter().map(|b| b.price).max())
        {
            finals.entry(a.category).or_default().push(max);
        }
    }
    finals
        .into_iter()
        .map(|(category, prices)| {
            let avg = prices.iter().sum::<i64>() as f64 / prices.len() as f64;
            vec![int(category), Value::Float64(avg)]
        })
        .collect()
}

fn q5(e: &Events) -> Vec<Vec<Value>> {
    let (size, slide) = (10 * SECOND, 2 * SECOND);
    let mut counts: BTreeMap<i64, BTreeMap<i64, i64>> = BTreeMap::new();
    for b in &e.bids {
        let last = b.date_time.div_euclid(slide) * slide;
        let mut start = last;
        while start > b.date_time - size {
            *counts
                .entry(start)
                .or_default()
                .entry(b.auction)
                .or_default() += 1;
            start -= slide;
        }
    }
    let mut rows = Vec::new();
    for per_auction in counts.values() {
        let max = per_auction.values().copied().max().unwrap_or(0);
        for (&auction, &n) in per_auction {
            if n >= max {
                rows.push(vec![int(auction), int(n)]);
            }
        }
    }
    rows
}

fn q6(e: &Events) -> Vec<Vec<Value>> {
    let bids = open_bids(e);
    let mut winners: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for a in &e.auctions {
        let best = bids.get(&a.id).and_then(|bids| {
            bids.iter()
                .max_by_key(|b| (b.price, std::cmp::Reverse(b.date_time)))
        });
        if let Some(b) = best {
            winners
                .entry(a.seller)
                .or_default()
                .push((b.date_time, a.id, b.price));
        }
    }
    let mut rows = Vec::new();
    for (seller, mut won) in winners {
        // Ordered by time, ties by the row's columns (the auction first).
        won.sort_unstable();
        for i in 0..won.len() {
            let frame = &won[i.saturating_sub(10)..=i];
            let sum: i64 = frame.iter().map(|w| w.2).sum();
            rows.push(vec![
                int(seller),
                Value::Float64(sum as f64 / frame.len() as f64),
            ]);
        }
    }
    rows
}

fn q7(e: &Events) -> Vec<Vec<Value>> {
    let size = 10 * SECOND;
    let mut max: BTreeMap<i64, i64> = BTreeMap::new();
    for b in &e.bids {
        let end = b.date_time.div_euclid(size) * size + size;
        let m = max.entry(end).or_insert(i64::MIN);
        *m = (*m).max(b.price);
    }
    let mut rows = Vec::new();
    for b in &e.bids {
        for (&end, &price) in &max {
            if b.price == price && (end - size..=end).contains(&b.date_time) {
                rows.push(vec![
                    int(b.auction),
                    int(b.price),
                    int(b.bidder),
                    time(b.date_time),
                ]);
            }
        }
    }
    rows
}

fn q8(e: &Events) -> Vec<Vec<Value>> {
    let start = |t: i64| t.div_euclid(10 * SECOND) * 10 * SECOND;
    let sellers: BTreeSet<(i64, i64)> = e
        .auctions
        .iter()
        .map(|a| (a.seller, start(a.date_time)))
        .collect();
    let persons: BTreeSet<(i64, String, i64)> = e
        .persons
        .iter()
        .map(|p| (p.id, p.name.clone(), start(p.date_time)))
        .collect();
    persons
        .into_iter()
        .filter(|(id, _, s)| sellers.contains(&(*id, *s)))
        .map(|(id, name, s)| vec![int(id), text(&name), time(s)])
        .collect()
}

fn q9(e: &Events) -> Vec<Vec<Value>> {
    let bids = open_bids(e);
    let mut rows = Vec::new();
    for a in &e.auctions {
        let Some(bids) = bids.get(&a.id) else {
            continue;
        };
        let best = bids
            .iter()
            .max_by_key(|b| (b.price, std::cmp::Reverse(b.date_time)));
        if let Some(b) = best {
            rows.push(vec![
                int(a.id),
                int(a.seller),
                int(b.price),
                time(b.date_time),
            ]);
        }
    }
    rows
}

fn q10(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .map(|b| {
            let t = b.date_time;
            vec![
                int(b.auction),
                int(b.bidder),
                int(b.price),
                time(t),
                text(&day(t)),
                text(&minute(t)),
            ]
        })
        .collect()
}

fn q11(e: &Events) -> Vec<Vec<Value>> {
    let gap = 10 * SECOND;
    let mut times: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for b in &e.bids {
        times.entry(b.bidder).or_default().push(b.date_time);
    }
    let mut rows = Vec::new();
    for (bidder, mut times) in times {
        times.sort_unstable();
        let (mut first, mut last, mut n) = (times[0], times[0], 0);
        for t in times {
            if t >= last + gap {
                rows.push(vec![int(bidder), int(n), time(first), time(last + gap)]);
                (first, n) = (t, 0);
            }
            last = t;
            n += 1;
        }
        rows.push(vec![int(bidder), int(n), time(first), time(last + gap)]);
    }
    rows
}

fn q13(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .map(|b| {
            let value = &e.side[&b.auction.rem_euclid(10_000)];
            vec![
                int(b.auction),
                int(b.bidder),
                int(b.price),
                time(b.date_time),
                text(value),
            ]
        })
        .collect()
}

fn q14(e: &Events) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for b in &e.bids {
        let price = 0.908 * b.price as f64;
        if !(price > 1_000_000.0 && price < 50_000_000.0) {
            continue;
        }
        let hour = b.date_time.div_euclid(3_600_000).rem_euclid(24);
        let kind = match hour {
            8..=18 => "dayTime",
            0..=6 | 20.. => "nightTime",
            _ => "otherTime",
        };
        let c = b.extra.matches('c').count() as i64;
        rows.push(vec![
            int(b.auction),
            int(b.bidder),
            Value::Float64(price),
            text(kind),
            time(b.date_time),
            int(c),
        ]);
    }
    rows
}

fn q15(e: &Events) -> Vec<Vec<Value>> {
    let mut days: BTreeMap<String, Vec<&Bid>> = BTreeMap::new();
    for b in &e.bids {
        days.entry(day(b.date_time)).or_default().push(b);
    }
    days.into_iter()
        .map(|(day, bids)| {
            let mut row = vec![text(&day)];
            row.extend(bidding_statistics(&bids));
            row
        })
        .collect()
}

fn q16(e: &Events) -> Vec<Vec<Value>> {
    let mut groups: BTreeMap<(String, String), Vec<&Bid>> = BTreeMap::new();
    for b in &e.bids {
        groups
            .entry((b.channel.to_string(), day(b.date_time)))
            .or_default()
            .push(b);
    }
    groups
        .into_iter()
        .map(|((channel, day), bids)| {
            let latest = bids
                .iter()
                .map(|b| minute(b.date_time))
                .max()
                .unwrap_or_default();
            let mut row = vec![text(&channel), text(&day), text(&latest)];
            row.extend(bidding_statistics(&bids));
            row
        })
        .collect()
}

fn q17(e: &Events) -> Vec<Vec<Value>> {
    let mut groups: BTreeMap<(i64, String), Vec<&Bid>> = BTreeMap::new();
    for b in &e.bids {
        groups
            .entry((b.auction, day(b.date_time)))
            .or_default()
            .push(b);
    }
    groups
        .into_iter()
        .map(|((auction, day), bids)| {
            let prices: Vec<i64> = bids.iter().map(|b| b.price).collect();
            let sum: i64 = prices.iter().sum();
            let mut row = vec![int(auction), text(&day)];
            row.extend(rank_counts(&bids).map(|n| int(n as i64)));
            row.extend([
                int(prices.iter().copied().min().unwrap_or(0)),
                int(prices.iter().copied().max().unwrap_or(0)),
                Value::Float64(sum as f64 / prices.len() as f64),
                int(sum),
            ]);
            row
        })
        .collect()
}

fn q18(e: &Events) -> Vec<Vec<Value>> {
    let mut last: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for b in &e.bids {
        let t = last.entry((b.bidder, b.auction)).or_insert(i64::MIN);
        *t = (*t).max(b.date_time);
    }
    last.into_iter()
        .map(|((bidder, auction), t)| vec![int(auction), int(bidder), time(t)])
        .collect()
}

fn q19(e: &Events) -> Vec<Vec<Value>> {
    let mut prices: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for b in &e.bids {
        prices.entry(b.auction).or_default().push(b.price);
    }
    let mut rows = Vec::new();
    for (auction, mut prices) in prices {
        prices.sort_unstable_by(|x, y| y.cmp(x));
        for (rank, price) in prices.into_iter().take(10).enumerate() {
            rows.push(vec![int(auction), int(price), int(rank as i64 + 1)]);
        }
    }
    rows
}

fn q20(e: &Events) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for a in e.auctions.iter().filter(|a| a.category == 10) {
        for b in e.bids.iter().filter(|b| b.auction == a.id) {
            rows.push(vec![
                int(b.auction),
                int(b.bidder),
                int(b.price),
                time(b.date_time),
                int(a.seller),
                int(a.category),
            ]);
        }
    }
    rows
}

fn q21(e: &Events) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for b in &e.bids {
        let lower = b.channel.to_lowercase();
        let known = ["apple", "google", "facebook", "baidu"]
            .iter()
            .position(|c| *c == lower);
        let id = match known {
            Some(i) => Some(i.to_string()),
            None => channel_id(b.url).map(str::to_string),
        };
        if known.is_some() || channel_id(b.url).is_some() {
            let id = id.map_or(Value::Null, |id| text(&id));
            rows.push(vec![
                int(b.auction),
                int(b.bidder),
                int(b.price),
                text(b.channel),
                id,
            ]);
        }
    }
    rows
}

fn q22(e: &Events) -> Vec<Vec<Value>> {
    e.bids
        .iter()
        .map(|b| {
            let parts: Vec<&str> = b.url.split('/').collect();
            let dir = |i: usize| parts.get(i).map_or(Value::Null, |s| text(s));
            vec![
                int(b.auction),
                int(b.price),
                text(b.channel),
                dir(3),
                dir(4),
                dir(5),
            ]
        })
        .collect()
}

fn q23(e: &Events) -> Vec<Vec<Value>> {
    let persons: HashMap<i64, &str> = e.persons.iter().map(|p| (p.id, p.name.as_str())).collect();
    let mut sold: HashMap<i64, Vec<i64>> = HashMap::new();
    for a in &e.auctions {
        sold.entry(a.seller).or_default().push(a.date_time);
    }
    let mut rows = Vec::new();
    for b in &e.bids {
        let (Some(name), Some(auctions)) = (persons.get(&b.bidder), sold.get(&b.bidder)) else {
            continue;
        };
        for &opened in auctions {
            rows.push(vec![int(b.bidder), int(b.price), text(name), time(opened)]);
        }
    }
    rows
}

/// Every query answered here, with the output columns compared.
pub fn all() -> Vec<Answer> {
    let answer = |query, compared: &[usize], compute| Answer {
        query,
        compared: compared.to_vec(),
        compute,
    };
    vec![
        answer("q0", &[0, 1, 2, 3, 4], q0),
        answer("q1", &[0, 1, 2, 3], q1),
        answer("q2", &[0, 1], q2),
        answer("q3", &[0, 1, 2, 3], q3),
        answer("q4", &[0, 1], q4),
        answer("q5", &[0, 1], q5),
        answer("q6", &[0, 1], q6),
        answer("q7", &[0, 1, 2, 3], q7),
        answer("q8", &[0, 1, 2], q8),
        // id, seller, price, bid_date_time: ties at one price and time
        // leave the bidder open.
        answer("q9", &[0, 7, 12, 13], q9),
        answer("q10", &[0, 1, 2, 3, 5, 6], q10),
        answer("q11", &[0, 1, 2, 3], q11),
        answer("q13", &[0, 1, 2, 3, 4], q13),
        answer("q14", &[0, 1, 2, 3, 4, 6], q14),
        answer("q15", &(0..13).collect::<Vec<_>>(), q15),
        answer("q16", &(0..15).collect::<Vec<_>>(), q16),
        answer("q17", &(0..10).collect::<Vec<_>>(), q17),
        // The latest bid's time per bidder and auction (two at one
        // millisecond may differ otherwise).
        answer("q18", &[0, 1, 5], q18),
        // Prices and ranks per auction (which of two equal bids ranks
        // first is open).
        answer("q19", &[0, 2, 7], q19),
        answer("q20", &[0, 1, 2, 5, 13, 14], q20),
        answer("q21", &[0, 1, 2, 3, 4], q21),
        answer("q22", &[0, 2, 3, 4, 5, 6], q22),
        answer("q23", &[0, 1, 6, 16], q23),
    ]
}
