//! Publishes the association's own log (`decisions`) to JetStream as a node publishes its
//! log: each entry's bytes on [`ENTRY_SUBJECT`] and the signed checkpoint of its size on
//! [`CHECKPOINT_SUBJECT`], in the stream [`STREAM`] (deletes and purges refused), so hromadas
//! and auditors can follow the association's decisions as they are taken (a hromada can see at
//! once a key enrolled in its name that it does not hold). The database is the source: every
//! `interval` the task publishes, in order, the entries past the last one on the stream, at
//! most [`PUBLISH_BATCH_MAX`] a round (one read of the database), each acknowledged before the
//! next round; ids (`Nats-Msg-Id`) make a repeat after a lost acknowledgement a no-op.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, Context, stream::LastRawMessageErrorKind};
use tokio::sync::watch;

use crate::decisions;
use crate::error::AssociationError;
use crate::lease::Lease;
use crate::store::Store;

/// The stream of the association's log.
pub const STREAM: &str = "VIDKRYTO_ASSOCIATION";
/// The subject entries are published on (their stored bytes, header `Vidkryto-Seq`).
pub const ENTRY_SUBJECT: &str = "vidkryto.association.ev";
/// The subject checkpoints are published on (the signed note, header `Vidkryto-Tree-Size`).
pub const CHECKPOINT_SUBJECT: &str = "vidkryto.association.ckpt";
/// How often the log is published.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);
/// Entries one round publishes at most.
pub const PUBLISH_BATCH_MAX: u32 = 1_000;
/// How long a round waits for its acknowledgements.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The stream's configuration: file storage, nothing deleted or purged, messages at most an
/// entry's size with room for headers.
pub fn stream_config(replicas: usize) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![ENTRY_SUBJECT.to_owned(), CHECKPOINT_SUBJECT.to_owned()],
        storage: jetstream::stream::StorageType::File,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        num_replicas: replicas,
        duplicate_window: wire::DUPLICATE_WINDOW_DEFAULT,
        max_message_size: i32::try_from(projection::association_log::ENTRY_LEN_MAX + 4 * 1024)
            .unwrap_or(i32::MAX),
        ..Default::default()
    }
}

/// The size of the last checkpoint on the stream (0: none), and that checkpoint: every entry
/// up to it, and its checkpoint, are published (an entry goes out before its checkpoint).
async fn published(stream: &jetstream::stream::Stream) -> Result<(u64, Vec<u8>), AssociationError> {
    match stream
        .get_last_raw_message_by_subject(CHECKPOINT_SUBJECT)
        .await
    {
        Ok(message) => {
            let size = message
                .headers
                .get(wire::TREE_SIZE_HEADER)
                .and_then(|v| v.as_str().parse().ok())
                .ok_or_else(|| {
                    AssociationError::Corrupt(format!(
                        "the last message on {CHECKPOINT_SUBJECT} has no {}",
                        wire::TREE_SIZE_HEADER
                    ))
                })?;
            Ok((size, message.payload.to_vec()))
        }
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((0, Vec::new())),
        Err(e) => Err(AssociationError::nats(e)),
    }
}

/// One round: publishes the entries `stream` lacks (at most [`PUBLISH_BATCH_MAX`]); returns
/// whether the log holds more still.
pub async fn publish_round(
    js: &Context,
    stream: &jetstream::stream::Stream,
    store: &Store,
) -> Result<bool, AssociationError> {
    let (size, checkpoint) = published(stream).await?;
    // One read from the last entry published on: it must be this database's (after a
    // database restored from an older backup, publishing on would mix two logs), the others
    // go out.
    let (mut entries, log_size) = decisions::read(store, size.max(1), PUBLISH_BATCH_MAX).await?;
    if size > 0 {
        if entries
            .first()
            .is_none_or(|e| e.seq != size || e.checkpoint.as_bytes() != checkpoint)
        {
            return Err(AssociationError::Corrupt(format!(
                "the published log's checkpoint of size {size} is not the database's: the \
                 database is not the log published on {STREAM}"
            )));
        }
        entries.remove(0);
    }
    let mut acks = Vec::with_capacity(entries.len() * 2);
    for entry in &entries {
        let seq = entry.seq.to_string();
        let messages = [
            (ENTRY_SUBJECT, "ev", wire::SEQ_HEADER, entry.bytes.clone()),
            (
                CHECKPOINT_SUBJECT,
                "ckpt",
                wire::TREE_SIZE_HEADER,
                entry.checkpoint.clone().into_bytes(),
            ),
        ];
        for (subject, kind, header, payload) in messages {
            let message = PublishMessage::build()
                .payload(payload.into())
                .message_id(format!("association-{kind}-{seq}"))
                .header(header, seq.as_str())
                .expected_stream(STREAM);
            acks.push(
                js.send_publish(subject, message)
                    .await
                    .map_err(AssociationError::nats)?,
            );
        }
    }
    tokio::time::timeout(ACK_TIMEOUT, async {
        for ack in acks {
            ack.await.map_err(AssociationError::nats)?;
        }
        Ok::<(), AssociationError>(())
    })
    .await
    .map_err(|_| {
        AssociationError::Nats(
            "the association log's publication was not acknowledged in time".into(),
        )
    })??;
    let published = entries.last().map_or(size, |e| e.seq);
    Ok(published < log_size)
}

/// Publishes the log through `client` every `interval` (again at once while the log holds
/// more) until `stop` turns true; a failed round is logged and tried again.
pub async fn run(
    client: async_nats::Client,
    store: Store,
    replicas: usize,
    interval: Duration,
    leadership: watch::Receiver<Option<Lease>>,
    mut stop: watch::Receiver<bool>,
) {
    let js = jetstream::new(client);
    let mut stream: Option<jetstream::stream::Stream> = None;
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(50)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Only the instance that ingests publishes (a repeat would be a no-op, but two
        // publishers would only race).
        if leadership.borrow().is_none() {
            continue;
        }
        loop {
            // The stream is made (or found) once, and again only after a failed round.
            let round = match &stream {
                Some(s) => publish_round(&js, s, &store).await,
                None => match js.get_or_create_stream(stream_config(replicas)).await {
                    Ok(s) => {
                        let round = publish_round(&js, &s, &store).await;
                        stream = Some(s);
                        round
                    }
                    Err(e) => Err(AssociationError::nats(e)),
                },
            };
            match round {
                Ok(true) => continue,
                Ok(false) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "failed to publish the association's log");
                    stream = None;
                    break;
                }
            }
        }
    }
}
