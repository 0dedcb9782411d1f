//! The committer: every message this node sends passes through it. It gathers the sends that
//! arrive together into groups, written one transaction (one fsync) each, and signs the new
//! items of the next group while the previous one is being written, each with the seq the store
//! is expected to give it, so that the node's one writer does not wait for signatures.
//!
//! Two tasks: the signer takes sends off the queue as they come, signs them ahead and keeps them
//! ready; the writer asks it for everything ready whenever it has finished a group. An expected
//! seq is only a forecast: the store assigns every seq, and a sealer asked for another seq than
//! the one it signed for signs afresh, inside the transaction. A wrong forecast (a send
//! refused in the middle of a group, another process sending) costs time, never a wrong
//! envelope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use puente_domain::PartyCode;
use puente_store::{JobEffect, OwnedSealer, SendJob, Sent, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most sends written in one transaction.
pub(crate) const MAX_GROUP: usize = 256;

/// Sends taken off the queue together this many or more are signed on the blocking pool; fewer
/// are signed in the signer task (a handful of signatures is quicker than the hand-off).
const SIGN_APART: usize = 8;

/// A send and where its outcome goes.
pub(crate) type Job = (SendJob, oneshot::Sender<Result<Sent, StoreError>>);

/// What the committer expects of each peer's next seq.
#[derive(Debug, Default)]
struct Forecast {
    /// The seq after the last one the store gave, as the groups written so far showed it.
    written_next: HashMap<PartyCode, u64>,
    /// Sends to each peer given a forecast and not written yet.
    ahead: HashMap<PartyCode, u64>,
}

impl Forecast {
    /// The seq each of `peers`' sends (in order) is expected to get, if the peer's next is known
    /// yet; they count as ahead until written.
    fn expect(&mut self, peers: &[PartyCode]) -> Vec<Option<u64>> {
        peers
            .iter()
            .map(|p| {
                let ahead = self.ahead.entry(*p).or_insert(0);
                let seq = self.written_next.get(p).map(|n| n.saturating_add(*ahead));
                *ahead += 1;
                seq
            })
            .collect()
    }

    /// A group was written (or dropped): `peers` of its sends in order, and the seq each was
    /// given (`None`: not sent; empty: none was).
    fn written(&mut self, peers: &[PartyCode], seqs: &[Option<u64>]) {
        let mut last: HashMap<PartyCode, u64> = HashMap::new();
        for (i, p) in peers.iter().enumerate() {
            if let Some(ahead) = self.ahead.get_mut(p) {
                *ahead = ahead.saturating_sub(1);
            }
            if let Some(Some(seq)) = seqs.get(i) {
                let l = last.entry(*p).or_insert(*seq);
                *l = (*l).max(*seq);
            }
        }
        // A peer none of whose sends went through keeps its next: a refused send uses no seq.
        for (p, seq) in last {
            self.written_next.insert(p, seq.saturating_add(1));
        }
    }
}

/// `seal`, having signed for `seq` already: asked for `seq`, it hands over that envelope;
/// asked for another, it signs afresh.
fn signed_ahead(seal: OwnedSealer, seq: u64) -> OwnedSealer {
    match seal(seq) {
        Ok(envelope) => Box::new(move |s| {
            if s == seq {
                Ok(envelope.clone())
            } else {
                seal(s)
            }
        }),
        // Refused now, refused in the transaction too, where it is reported.
        Err(_) => seal,
    }
}

/// Signs the new items among `jobs` for the seqs `expected` of them.
fn sign_ahead(jobs: Vec<Job>, expected: &[Option<u64>]) -> Vec<Job> {
    jobs.into_iter()
        .zip(expected)
        .map(|((job, reply), seq)| match (&job.effect, *seq) {
            // Steps are decided in the transaction, before they are signed: a refused step is
            // not worth a signature.
            (JobEffect::NewItem(_), Some(seq)) => {
                let SendJob {
                    ctx,
                    to,
                    effect,
                    seal,
                } = job;
                let seal = signed_ahead(seal, seq);
                (
                    SendJob {
                        ctx,
                        to,
                        effect,
                        seal,
                    },
                    reply,
                )
            }
            _ => (job, reply),
        })
        .collect()
}

/// Starts the committer's two tasks on `queue`.
pub(crate) fn start(store: Arc<dyn Store>, queue: mpsc::Receiver<Job>) {
    let forecast = Arc::new(Mutex::new(Forecast::default()));
    let (asks, asked) = mpsc::channel(1);
    tokio::spawn(signer(queue, asked, Arc::clone(&forecast)));
    tokio::spawn(writer(store, asks, forecast));
}

/// Takes sends off `queue`, signs them ahead, and hands everything ready (up to a group) to the
/// writer when it asks. Ends once the queue is closed and everything taken has been handed over,
/// or the writer is gone.
async fn signer(
    mut queue: mpsc::Receiver<Job>,
    mut asked: mpsc::Receiver<oneshot::Sender<Vec<Job>>>,
    forecast: Arc<Mutex<Forecast>>,
) {
    let mut ready: Vec<Job> = Vec::new();
    let mut open = true;
    loop {
        tokio::select! {
            // The writer first: a send waits for the signer only while the writer is busy.
            biased;
            ask = asked.recv(), if !ready.is_empty() => {
                let Some(ask) = ask else { break };
                let rest = ready.split_off(ready.len().min(MAX_GROUP));
                let group = std::mem::replace(&mut ready, rest);
                if ask.send(group).is_err() {
                    break;
                }
            }
            first = queue.recv(), if open && ready.len() < MAX_GROUP => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let mut jobs = vec![first];
                while ready.len() + jobs.len() < MAX_GROUP {
                    match queue.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let peers: Vec<PartyCode> = jobs.iter().map(|(job, _)| job.to).collect();
                let expected = match forecast.lock() {
                    Ok(mut f) => f.expect(&peers),
                    Err(_) => vec![None; peers.len()],
                };
                if jobs.len() < SIGN_APART {
                    ready.extend(sign_ahead(jobs, &expected));
                    continue;
                }
                match tokio::task::spawn_blocking(move || sign_ahead(jobs, &expected)).await {
                    Ok(jobs) => ready.extend(jobs),
                    Err(e) => {
                        // The jobs went with the panic; their senders are told the node is
                        // shutting down (their reply channels are dropped).
                        tracing::error!(error = %e, "signing a group of sends ahead failed");
                        if let Ok(mut f) = forecast.lock() {
                            f.written(&peers, &[]);
                        }
                    }
                }
            }
            else => break,
        }
    }
}

/// Asks the signer for a group, writes it with `Store::send_batch`, answers every sender with
/// its own outcome and tells the forecast which seqs were given; again, until the signer ends.
async fn writer(
    store: Arc<dyn Store>,
    asks: mpsc::Sender<oneshot::Sender<Vec<Job>>>,
    forecast: Arc<Mutex<Forecast>>,
) {
    loop {
        let (ask, answer) = oneshot::channel();
        if asks.send(ask).await.is_err() {
            break;
        }
        let Ok(group) = answer.await else { break };
        let peers: Vec<PartyCode> = group.iter().map(|(job, _)| job.to).collect();
        let (jobs, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let outcome = store.send_batch(jobs).await;
        let seqs: Vec<Option<u64>> = match &outcome {
            Ok(results) => results
                .iter()
                .map(|r| r.as_ref().ok().map(|sent| sent.envelope.seq))
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(mut f) = forecast.lock() {
            f.written(&peers, &seqs);
        }
        match outcome {
            Ok(results) => {
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "a group of sends failed");
                let reason = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Batch(reason.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    use puente_store::SealedEnvelope;

    const US: PartyCode = PartyCode::US;
    const MX: PartyCode = PartyCode::MX;

    #[test]
    fn the_forecast_follows_what_the_store_gave() {
        let mut f = Forecast::default();
        // Nothing written yet: no forecast, but the sends count as ahead.
        assert_eq!(f.expect(&[MX, MX]), vec![None, None]);
        assert_eq!(f.expect(&[MX]), vec![None]);
        f.written(&[MX, MX], &[Some(1), Some(2)]);
        // The third is still ahead: the next group starts after it.
        assert_eq!(f.expect(&[MX, US, MX]), vec![Some(4), None, Some(5)]);
        f.written(&[MX], &[Some(3)]);
        // The group of three: the first send to MX was refused (no seq used), so the second
        // got 4, not the 5 expected; the forecast takes the store's word.
        f.written(&[MX, US, MX], &[None, Some(1), Some(4)]);
        assert_eq!(f.expect(&[MX, US]), vec![Some(5), Some(2)]);
        // Another process sent to MX meanwhile: the store gave 9, and so on from there.
        f.written(&[MX, US], &[Some(9), Some(2)]);
        assert_eq!(f.expect(&[MX]), vec![Some(10)]);
        // A group that failed whole, or was lost: nothing given, nothing ahead any more.
        f.written(&[MX], &[]);
        assert_eq!(f.expect(&[MX]), vec![Some(10)]);
        assert_eq!(f.ahead.get(&MX), Some(&1));
    }

    fn counting_sealer(calls: Arc<AtomicU64>) -> OwnedSealer {
        Box::new(move |seq| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(SealedEnvelope {
                id: uuid::Uuid::nil(),
                seq,
                message_type: "referral".to_owned(),
                time: time::OffsetDateTime::UNIX_EPOCH,
                signed: format!("signed for {seq}"),
                hash: [0; 32],
            })
        })
    }

    #[test]
    fn signed_ahead_hands_over_its_envelope_only_for_its_seq() {
        let calls = Arc::new(AtomicU64::new(0));
        let seal = signed_ahead(counting_sealer(Arc::clone(&calls)), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The seq it signed for: the envelope signed ahead, no new signature.
        let same = seal(7).unwrap();
        assert_eq!((same.seq, same.signed.as_str()), (7, "signed for 7"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another seq (a wrong forecast): signed afresh for it.
        let other = seal(8).unwrap();
        assert_eq!((other.seq, other.signed.as_str()), (8, "signed for 8"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A sealer that refuses is left as it is, to refuse in the transaction.
        let refusing: OwnedSealer = Box::new(|_| Err("no".to_owned()));
        assert_eq!(signed_ahead(refusing, 1)(1), Err("no".to_owned()));
    }
}
