-- Which `association run` instance ingests (`lease`): one row, the holder's instance id, the
-- term's epoch (one more at every takeover) and when the lease runs out unless renewed. Every
-- write of the ingest renews it in its own transaction, under the row's lock, and only while
-- the holder and epoch are still its own, so a former leader (paused, cut off) commits nothing
-- once another has taken over. `current` is the leader's word on whether it reads its stream
-- as fast as it fills, for instances that stand by or serve reads only. `locked` says the holder
-- holds the session advisory lock of leaders, whose release (its connection gone) lets a
-- standby take over without waiting for the lease to run out.
CREATE TABLE ingest_lease (
    id         int         PRIMARY KEY CHECK (id = 1),
    holder     uuid,
    epoch      bigint      NOT NULL CHECK (epoch >= 0),
    expires_at timestamptz NOT NULL,
    current    boolean     NOT NULL DEFAULT false,
    locked     boolean     NOT NULL DEFAULT false
);
INSERT INTO ingest_lease (id, holder, epoch, expires_at) VALUES (1, NULL, 0, '-infinity');

-- Commits of the ingest and rebuilds, counted: instances that do not ingest (standing by,
-- serving reads from a replica) reload their national snapshot when it moves.
ALTER TABLE ingest_position ADD COLUMN commits bigint NOT NULL DEFAULT 0;
