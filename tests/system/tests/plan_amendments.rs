//! The national overdue rule follows a plan's amendments and withdrawals: three milestones
//! past due count as overdue in Vinnytsia's figures and in its milestone list; one moved to
//! next year, one withdrawn, and one whose commitment is withdrawn no longer do; the projection
//! rebuilt from the verified copy gives the same digest.

use std::time::Duration;

use proto::national::v1 as national;
use proto::node::v1 as pb;
use system_tests::{Civic, TestAssociation, VINNYTSIA, request_id};
use testkit::NatsServer;

async fn overdue_now(association: &TestAssociation, expected: u64) -> national::Figures {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let f = association
            .national()
            .await
            .get_municipality(national::GetMunicipalityRequest {
                code: VINNYTSIA.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .figures
            .unwrap();
        if f.milestones_overdue_now == expected || tokio::time::Instant::now() > deadline {
            return f;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Vinnytsia's milestones as the national API lists them.
async fn milestone_list(association: &TestAssociation) -> national::ListMilestonesResponse {
    association
        .national()
        .await
        .list_milestones(national::ListMilestonesRequest {
            code: VINNYTSIA.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overdue_milestones_follow_amendments_and_withdrawals_nationally() {
    let nats = NatsServer::start().await.unwrap();
    let (association, [node]) = TestAssociation::with_nodes(&nats.url(), [(VINNYTSIA, 100)]).await;
    let year: i32 = domain::kyiv_date(node.clock.now()).year();
    let mut civic = Civic::of(&node).await;
    let plan = civic
        .plan(
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    let first = civic
        .commitment(
            &plan,
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    let second = civic
        .commitment(
            &plan,
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    let past = format!("{}-06-30", year - 1);
    let moved = civic.milestone(&plan, &first, &past).await;
    let dropped = civic.milestone(&plan, &first, &past).await;
    civic.milestone(&plan, &second, &past).await;
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(30))
        .await;
    assert_eq!(overdue_now(&association, 3).await.milestones_overdue_now, 3);

    let mut c = node.client().await;
    c.amend_milestone(pb::AmendMilestoneRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        milestone_id: moved.clone(),
        due: format!("{}-03-31", year + 1),
        reason: "Тендер перенесено.".into(),
    })
    .await
    .unwrap();
    c.withdraw_milestone(pb::WithdrawMilestoneRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        milestone_id: dropped,
        reason: "Етап об'єднано з наступним.".into(),
    })
    .await
    .unwrap();
    c.withdraw_commitment(pb::WithdrawCommitmentRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: second,
        reason: "Зобов'язання виконує область.".into(),
    })
    .await
    .unwrap();
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(30))
        .await;
    let f = overdue_now(&association, 0).await;
    assert_eq!(f.milestones_overdue_now, 0);
    assert_eq!(f.milestones, 3, "withdrawn milestones stay in the history");
    assert_eq!(f.anomalies, 0);
    // The hromada's milestone list: the moved one due next year, none overdue.
    let list = milestone_list(&association).await;
    assert!(list.milestones.iter().all(|m| !m.overdue), "{list:?}");
    assert!(
        list.milestones
            .iter()
            .any(|m| m.due == format!("{}-03-31", year + 1)),
        "{list:?}"
    );
    // A draft's milestone past due is not overdue: nothing may be reported on a draft.
    let draft = c
        .draft_plan(pb::DraftPlanRequest {
            request_id: request_id(),
            title: "Наступний план (проєкт)".into(),
            period_start: format!("{}-01-01", year - 1),
            period_end: format!("{}-12-31", year + 1),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let drafted = civic
        .commitment(
            &draft,
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    civic.milestone(&draft, &drafted, &past).await;
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(30))
        .await;
    let f = overdue_now(&association, 0).await;
    assert_eq!((f.milestones_overdue_now, f.milestones), (0, 4));
    assert_eq!(f.action_plans, 1, "a draft is not an adopted plan");
    let list = milestone_list(&association).await;
    assert!(list.milestones.iter().all(|m| !m.overdue), "{list:?}");
    association.assert_nothing_quarantined().await;
    association.shutdown().await;
}
