//! A scripted life of petitions, dialogues and an action plan in Kyiv and Vinnytsia, with the
//! anomalies a misbehaving log could hold. `life.rs` checks every number it should give.

use domain::action_plan::{ImplementationStatus as S, OpenedGovernment as O};
use domain::dialogue::{ContributionResponse as R, DialogueKind};
use domain::petition::AnswerDecision;

use crate::common::*;

/// The whole script as one log, interleaving the two municipalities.
pub fn scripted_life() -> Log {
    let (k, v) = (kyiv_city(), vinnytsia());
    let mut log = Log::default();

    // Week of Monday 2024-01-15 in Kyiv.
    log.push(k, calendar_set(kyiv("2024-01-14", 9, 0)));
    log.push(k, filed(pid(1), kyiv("2024-01-15", 10, 0)));
    log.push(
        k,
        announced(
            did(1),
            DialogueKind::PublicHearing,
            kyiv("2024-01-15", 12, 0),
        ),
    );
    log.push(k, published(pid(1), 3, kyiv("2024-01-16", 9, 0)));
    log.push(k, contributed(did(1), 1, kyiv("2024-01-16", 10, 0)));
    log.push(k, signed(pid(1), 1, kyiv("2024-01-17", 12, 0)));
    log.push(k, filed(pid(2), kyiv("2024-01-17", 11, 0)));
    log.push(k, contributed(did(1), 2, kyiv("2024-01-17", 10, 0)));
    log.push(k, rejected(pid(2), kyiv("2024-01-18", 11, 0)));
    log.push(k, filed(pid(3), kyiv("2024-01-18", 12, 0)));
    log.push(k, published(pid(3), 100, kyiv("2024-01-19", 9, 0)));
    log.push(k, signed(pid(3), 1, kyiv("2024-01-20", 10, 0)));
    log.push(k, signed(pid(1), 2, kyiv("2024-01-21", 23, 30)));
    // Monday 00:30 in Kyiv is still Sunday in UTC: the week is Kyiv's.
    log.push(k, signed(pid(1), 3, kyiv("2024-01-22", 0, 30)));
    log.push(k, threshold_reached(pid(1), 3, kyiv("2024-01-22", 0, 30)));
    log.push(k, contributed(did(1), 3, kyiv("2024-01-22", 10, 0)));
    log.push(k, signed(pid(1), 4, kyiv("2024-01-23", 10, 0)));
    log.push(
        k,
        contribution_answered(did(1), 1, R::Accepted, kyiv("2024-01-23", 10, 0)),
    );
    log.push(
        k,
        consideration_started(pid(1), kyiv("2024-01-24", 10, 0), "2024-02-07"),
    );
    log.push(
        k,
        contribution_answered(did(1), 2, R::Rejected, kyiv("2024-01-24", 10, 0)),
    );
    // A duplicate filing: an anomaly.
    log.push(k, filed(pid(2), kyiv("2024-01-24", 12, 0)));
    log.push(k, dialogue_closed(did(1), 120, kyiv("2024-01-30", 18, 0)));
    log.push(
        k,
        contribution_answered(did(1), 3, R::PartlyAccepted, kyiv("2024-01-31", 9, 0)),
    );
    // A contribution after closing: an anomaly.
    log.push(k, contributed(did(1), 4, kyiv("2024-01-31", 10, 0)));
    log.push(k, outcome_published(did(1), kyiv("2024-02-05", 10, 0)));
    // An answer after the outcome report, with every contribution answered: an anomaly.
    log.push(
        k,
        contribution_answered(did(1), 4, R::Accepted, kyiv("2024-02-06", 10, 0)),
    );
    // Answered on the deadline's day, late in the evening: on time, 14 days.
    log.push(
        k,
        answered(pid(1), AnswerDecision::Supported, kyiv("2024-02-07", 17, 0)),
    );
    // A signature for a petition Kyiv never filed: an anomaly.
    log.push(k, signed(pid(9), 1, kyiv("2024-02-08", 10, 0)));
    log.push(k, collection_closed(pid(3), 1, kyiv("2024-02-19", 10, 0)));
    log.push(k, implementation_updated(pid(1), kyiv("2024-03-01", 10, 0)));

    // Vinnytsia, from the week of Monday 2024-03-25 (summer time starts on the 31st).
    log.push(v, filed(pid(4), kyiv("2024-03-25", 10, 0)));
    log.push(
        v,
        announced(
            did(2),
            DialogueKind::YouthCouncil,
            kyiv("2024-03-25", 11, 0),
        ),
    );
    log.push(v, published(pid(4), 1, kyiv("2024-03-26", 10, 0)));
    log.push(
        v,
        adopted(
            plan(1),
            "2024-04-01",
            "2025-12-31",
            kyiv("2024-03-26", 10, 0),
        ),
    );
    // Adopting the same plan again: an anomaly.
    log.push(
        v,
        adopted(
            plan(1),
            "2024-04-01",
            "2025-12-31",
            kyiv("2024-03-26", 11, 0),
        ),
    );
    log.push(v, contributed(did(2), 1, kyiv("2024-03-27", 10, 0)));
    log.push(
        v,
        commitment_added(plan(1), commitment(1), kyiv("2024-03-27", 10, 0)),
    );
    log.push(
        v,
        commitment_added(plan(1), commitment(2), kyiv("2024-03-27", 11, 0)),
    );
    for (m, c, due) in [
        (1, 1, "2024-06-30"),
        (2, 1, "2024-09-30"),
        (3, 2, "2024-12-31"),
    ] {
        let at = kyiv("2024-03-28", 10, 0);
        log.push(
            v,
            milestone_added(plan(1), commitment(c), milestone(m), due, at),
        );
    }
    log.push(v, signed(pid(4), 1, kyiv("2024-03-30", 23, 30)));
    log.push(v, threshold_reached(pid(4), 1, kyiv("2024-03-30", 23, 30)));
    log.push(k, implementation_updated(pid(1), kyiv("2024-04-01", 10, 0)));
    log.push(
        v,
        consideration_started(pid(4), kyiv("2024-04-01", 9, 0), "2024-04-15"),
    );
    log.push(v, filed(pid(5), kyiv("2024-04-02", 10, 0)));
    // Consideration of a petition still awaiting moderation: an anomaly.
    log.push(
        v,
        consideration_started(pid(5), kyiv("2024-04-03", 10, 0), "2024-04-17"),
    );
    log.push(v, published(pid(5), 50, kyiv("2024-04-04", 10, 0)));
    let (p1, c1, c2) = (plan(1), commitment(1), commitment(2));
    log.push(
        v,
        progress(p1, c1, milestone(1), S::Limited, kyiv("2024-04-10", 10, 0)),
    );
    // Kyiv reports progress on a milestone only Vinnytsia has: an anomaly in Kyiv.
    log.push(
        k,
        progress(p1, c1, milestone(1), S::Limited, kyiv("2024-04-10", 11, 0)),
    );
    // And on a milestone no one has: another.
    log.push(
        k,
        progress(
            p1,
            c1,
            milestone(9),
            S::NotStarted,
            kyiv("2024-04-10", 12, 0),
        ),
    );
    // Answered at 00:30 on the day after the deadline (still the deadline's day in UTC):
    // late, 15 days.
    log.push(
        v,
        answered(
            pid(4),
            AnswerDecision::NotSupported,
            kyiv("2024-04-16", 0, 30),
        ),
    );
    // Implementation of a petition not supported: an anomaly.
    log.push(v, implementation_updated(pid(4), kyiv("2024-04-20", 10, 0)));
    log.push(
        v,
        progress(p1, c1, milestone(1), S::Complete, kyiv("2024-05-15", 10, 0)),
    );
    log.push(
        v,
        progress(
            p1,
            c1,
            milestone(1),
            S::Substantial,
            kyiv("2024-05-20", 10, 0),
        ),
    );
    log.push(
        v,
        progress(
            p1,
            c1,
            milestone(2),
            S::NotStarted,
            kyiv("2024-05-20", 11, 0),
        ),
    );
    log.push(
        v,
        progress(p1, c1, milestone(1), S::Complete, kyiv("2024-05-22", 10, 0)),
    );
    // Milestone 3 belongs to commitment 2: naming commitment 1 is an anomaly.
    log.push(
        v,
        progress(p1, c1, milestone(3), S::Limited, kyiv("2024-05-23", 10, 0)),
    );
    log.push(
        v,
        assessed(p1, c1, S::Complete, O::Major, kyiv("2024-12-01", 10, 0)),
    );
    log.push(
        v,
        assessed(
            p1,
            c1,
            S::Complete,
            O::Outstanding,
            kyiv("2024-12-02", 10, 0),
        ),
    );
    log.push(
        v,
        assessed(p1, c2, S::Limited, O::Marginal, kyiv("2024-12-03", 10, 0)),
    );
    // A milestone for an assessed commitment: an anomaly.
    let at = kyiv("2024-12-04", 10, 0);
    log.push(v, milestone_added(p1, c1, milestone(4), "2025-01-31", at));
    log.push(v, plan_closed(p1, kyiv("2025-01-10", 10, 0)));
    // Closing twice, and adding to a closed plan: two anomalies.
    log.push(v, plan_closed(p1, kyiv("2025-01-11", 10, 0)));
    log.push(
        v,
        commitment_added(p1, commitment(3), kyiv("2025-01-12", 10, 0)),
    );
    log
}
