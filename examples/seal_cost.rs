//! What sealing one permit costs on this machine (the writer signs every accepted state):
//! `cargo run --release --example seal_cost`. Prints microseconds per permit on one core, and
//! an attestation's on every core.

use std::time::Instant;
fn main() {
    let sealer =
        permitd::trust::seal::Sealer::new(permitd::trust::keys::SigningKey::from_seed(&[3; 32]));
    let catalog = permitd::catalog::Catalog::embedded().unwrap();
    let mut out = Vec::new();
    permitd::gen::generate(
        &catalog,
        &permitd::gen::GenOptions {
            permits: 2000,
            seed: 1,
            as_of: permitd::domain::Date::from_ymd(2026, 6, 1).unwrap(),
        },
        &mut out,
        &mut |_| {},
    )
    .unwrap();
    let mut reg = permitd::registry::Registry::new(&catalog);
    permitd::feed::fold(&mut reg, &out[..], &mut |_| {}).unwrap();
    let mut permits = reg.into_sorted();
    let now = time::OffsetDateTime::now_utc();
    let t = Instant::now();
    for p in permits.iter_mut() {
        sealer.seal(p, now);
    }
    println!(
        "seal (qr+attestation): {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / permits.len() as f64
    );
    let t = Instant::now();
    for p in permits.iter_mut() {
        sealer.seal(p, now);
    }
    println!(
        "reseal (attestation only): {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / permits.len() as f64
    );
    // The same on every core, as the writer's sealing stage and `snapshot build` sign.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for _ in 0..3 {
        let t = Instant::now();
        sealer.renew_all_older_than(&mut permits, now, time::Duration::ZERO);
        println!(
            "reseal on {cores} cores: {:.1} us a permit (wall)",
            t.elapsed().as_secs_f64() * 1e6 / permits.len() as f64
        );
    }
    let t = Instant::now();
    let mut n = 0;
    for p in permits.iter() {
        let a = permitd::trust::Attestation::for_permit(p, 1, now);
        n += serde_json::to_vec(&a).unwrap().len();
    }
    println!(
        "attestation build+json: {:.1} us ({} bytes avg)",
        t.elapsed().as_secs_f64() * 1e6 / permits.len() as f64,
        n / permits.len()
    );
    let t = Instant::now();
    for p in permits.iter() {
        let q = permitd::trust::QrPayload::for_permit(p, sealer.kid()).unwrap();
        std::hint::black_box(q);
    }
    println!(
        "qr payload build: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / permits.len() as f64
    );
}
