//! Simulated municipality nodes: real envelopes of real domain events (petitions filed,
//! published and signed), a real Merkle tree and real signed checkpoints, published to the
//! node's own JetStream stream exactly as the relay does (same subjects, ids and headers).

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use domain::disclosure::{PetitionText, Salt};
use domain::petition::{
    PetitionContent, PetitionEvent, PetitionFiled, PetitionPublished, PetitionSigned, StatuteRule,
};
use domain::{CivilDate, Event, PetitionId, PseudonymTag};
use event_store_core::checkpoint::{Checkpoint, NoteSigner, origin_for};
use event_store_core::merkle::{self, Frontier};
use event_store_core::{
    Envelope, EventId, LogSeq, MunicipalityCode, StreamId, StreamVersion, Timestamp,
};
use uuid::Uuid;

/// Signatures per petition before the node files the next one.
/// Signatures each simulated petition collects: a local petition's usual tens, so a backlog of
/// 10^6 events holds tens of thousands of petitions for the catalogue.
const SIGNATURES_PER_PETITION: u64 = 20;
/// Publishes awaiting their `PubAck`, as the relay's window.
pub const IN_FLIGHT: usize = 512;

/// One simulated node.
#[derive(Debug)]
pub struct SimNode {
    pub code: MunicipalityCode,
    pub signer: NoteSigner,
    frontier: Frontier,
    petition: Uuid,
    version: u64,
    /// Petitions written so far (offset per node), which picks each one's text.
    petitions: u64,
    /// The size of the last checkpoint published.
    pub checkpointed: u64,
}

impl SimNode {
    /// A node of each of `codes`, seeded by its place in the list.
    pub fn all(codes: &[MunicipalityCode]) -> anyhow::Result<Vec<Self>> {
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| Self::new(*code, i as u64))
            .collect()
    }

    pub fn new(code: MunicipalityCode, seed: u64) -> anyhow::Result<Self> {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8] = 0x5a;
        Ok(Self {
            code,
            signer: NoteSigner::from_seed(&origin_for(&code), bytes)?,
            frontier: Frontier::new(),
            petition: Uuid::nil(),
            version: 0,
            petitions: seed.wrapping_mul(7_919),
            checkpointed: 0,
        })
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The next event's stored bytes and sequence number.
    pub fn next_event(&mut self, at: Timestamp) -> anyhow::Result<(u64, Vec<u8>)> {
        let tag = |n: u64| {
            let mut t = [0u8; 32];
            t[..8].copy_from_slice(&n.to_le_bytes());
            PseudonymTag(t)
        };
        // Each petition its own Ukrainian title and text, as `vidkryto dev` writes them.
        let petitions = self.petitions;
        let text = || {
            let (title, text, _) = dev::texts::petition(petitions);
            PetitionText {
                salt: Salt([7; 32]),
                title,
                text,
            }
        };
        let event = if self.version == 0 {
            self.petition = Uuid::now_v7();
            Event::Petition(PetitionEvent::Filed(PetitionFiled {
                petition_id: PetitionId(self.petition),
                author: tag(u64::MAX),
                content: PetitionContent::Committed(text().commitment()),
                category: dev::texts::petition(petitions).2.into(),
                at,
                moderation_due: CivilDate::new(2026, 12, 1).context("a date")?,
            }))
        } else if self.version == 1 {
            Event::Petition(PetitionEvent::Published(PetitionPublished {
                petition_id: PetitionId(self.petition),
                rule: StatuteRule::with_law_deadline(1_000_000, 60),
                at,
                disclosure: Some(text()),
                acted_by: None,
            }))
        } else {
            Event::Petition(PetitionEvent::Signed(PetitionSigned {
                petition_id: PetitionId(self.petition),
                signer: tag(self.version),
                at,
            }))
        };
        self.version += 1;
        let encoded = domain::encode(&event);
        let seq = self.frontier.size() + 1;
        let bytes = Envelope {
            event_type: encoded.event_type,
            schema_version: encoded.schema_version,
            municipality: self.code,
            seq: LogSeq(seq),
            stream_id: StreamId(self.petition),
            stream_version: StreamVersion(self.version),
            event_id: EventId(Uuid::now_v7()),
            recorded_at: at,
            payload: encoded.payload,
        }
        .encode()?;
        self.frontier.push(merkle::leaf_hash(&bytes), |_, _| {});
        if self.version >= SIGNATURES_PER_PETITION + 2 {
            self.version = 0;
            self.petitions += 1;
        }
        Ok((seq, bytes))
    }

    /// A signed checkpoint of everything so far.
    pub fn checkpoint(&mut self) -> String {
        self.checkpointed = self.frontier.size();
        self.signer
            .sign(Checkpoint {
                origin: origin_for(&self.code),
                size: self.frontier.size(),
                root: self.frontier.root(),
            })
            .to_note()
    }
}

/// A pipelined publisher with a bounded window, like the relay.
#[derive(Debug)]
pub struct Publisher {
    js: Context,
    pending: VecDeque<PublishAckFuture>,
}

impl Publisher {
    pub fn new(js: Context) -> Self {
        Self {
            js,
            pending: VecDeque::with_capacity(IN_FLIGHT),
        }
    }

    async fn send(&mut self, subject: String, message: PublishMessage) -> anyhow::Result<()> {
        while self.pending.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        let ack = self.js.send_publish(subject, message).await?;
        self.pending.push_back(ack);
        Ok(())
    }

    async fn settle_one(&mut self) -> anyhow::Result<()> {
        if let Some(ack) = self.pending.pop_front() {
            tokio::time::timeout(Duration::from_secs(30), ack)
                .await
                .context("a PubAck timed out")??;
        }
        Ok(())
    }

    /// Waits for every outstanding `PubAck`.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        while !self.pending.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    pub async fn event(&mut self, node: &SimNode, seq: u64, bytes: Vec<u8>) -> anyhow::Result<()> {
        let message = PublishMessage::build()
            .payload(bytes.into())
            .message_id(format!("{}-{seq}", node.code))
            .header(wire::SEQ_HEADER, seq.to_string());
        self.send(wire::event_subject(&node.code), message).await
    }

    pub async fn checkpoint(&mut self, node: &mut SimNode) -> anyhow::Result<()> {
        let note = node.checkpoint();
        let size = node.checkpointed;
        let message_id = wire::checkpoint_msg_id(&node.code, size, &note);
        let message = PublishMessage::build()
            .payload(note.into_bytes().into())
            .message_id(message_id)
            .header(wire::TREE_SIZE_HEADER, size.to_string());
        self.send(wire::checkpoint_subject(&node.code), message)
            .await
    }
}
