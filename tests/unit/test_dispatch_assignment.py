"""Choosing a technician: each hard rule excludes with its reason, then nearest, least
loaded, earliest and id break ties; urgent jobs are taken from the queue first."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from services.dispatch.domain.assignment import (
    Base,
    Candidate,
    Exclusion,
    JobNeeds,
    choose,
    choose_nearest,
    great_circle_km,
    great_circle_kms,
    queue_order,
    rank,
)
from services.dispatch.domain.calendar import WorkingHours

ZONE = "Asia/Shanghai"
ALWAYS = WorkingHours.parse(ZONE, "mon-sun 00:00-24:00")
OFFICE = WorkingHours.parse(ZONE, "mon-fri 09:00-18:00")
# Wednesday 2026-11-25 10:00 in Shanghai.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)
PUDONG = Base("SP-PD", 31.2304, 121.5440, frozenset({"上海"}))
SONGJIANG = Base("SP-SJ", 31.0320, 121.2270, frozenset({"上海"}))
BEIJING = Base("SP-BJ", 39.9219, 116.4436, frozenset({"北京"}))


def tech(tid: str, base: Base = PUDONG, **changes: object) -> Candidate:
    values: dict[str, object] = {
        "technician_id": tid, "name": tid, "active": True, "skills": frozenset({"pumps"}),
        "certified_until": TODAY + timedelta(days=100), "base": base, "hours": ALWAYS,
        "max_jobs_per_day": 3,
    }  # fmt: skip
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


def job(**changes: object) -> JobNeeds:
    values: dict[str, object] = {
        "request_no": "SR-2026-000001", "skill": "pumps", "region": "上海",
        "latitude": 31.2400, "longitude": 121.5000, "urgent": False,
        "arrival_due_at": NOW + timedelta(hours=3),
    }  # fmt: skip
    values.update(changes)
    return JobNeeds(**values)  # type: ignore[arg-type]


def decide(needs: JobNeeds, *candidates: Candidate, loads: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return choose(needs, candidates, loads or {}, NOW, 40.0, TODAY)


def reason(decision, tid: str) -> Exclusion | None:  # type: ignore[no-untyped-def]
    return next(c.excluded for c in decision.considered if c.technician_id == tid)


def test_great_circle_distance_shanghai_to_beijing() -> None:
    assert 1050 < great_circle_km(31.2304, 121.4737, 39.9042, 116.4074) < 1075


def test_distances_from_one_place_are_each_distance_to_the_last_bit() -> None:
    rng = random.Random(7)
    for _ in range(200):
        latitude, longitude = rng.uniform(-89, 89), rng.uniform(-179, 179)
        places: list[tuple[float | None, float | None]] = [
            (rng.uniform(-89, 89), rng.uniform(-179, 179)) for _ in range(5)
        ]
        places += [(latitude, longitude), (None, 121.5), (31.2, None)]
        expected = [
            None if lat is None or lon is None else great_circle_km(latitude, longitude, lat, lon)
            for lat, lon in places
        ]
        assert great_circle_kms(latitude, longitude, places) == expected


def test_inactive_technician_is_excluded() -> None:
    decision = decide(job(), tech("A", active=False))
    assert decision.winner is None and reason(decision, "A") is Exclusion.INACTIVE
    assert decision.reasons == {"inactive": 1}


def test_expired_or_missing_certificate_is_excluded() -> None:
    decision = decide(
        job(), tech("A", certified_until=TODAY - timedelta(days=1)), tech("B", certified_until=None)
    )
    assert reason(decision, "A") is Exclusion.CERTIFICATE_EXPIRED
    assert reason(decision, "B") is Exclusion.CERTIFICATE_EXPIRED
    # Valid through today still counts.
    assert decide(job(), tech("C", certified_until=TODAY)).winner is not None


def test_technician_without_the_skill_is_excluded() -> None:
    decision = decide(job(), tech("A", skills=frozenset({"compressors"})))
    assert reason(decision, "A") is Exclusion.MISSING_SKILL


def test_technician_who_declined_is_not_chosen_again() -> None:
    decision = decide(job(declined_by=frozenset({"A"})), tech("A"), tech("B", SONGJIANG))
    assert reason(decision, "A") is Exclusion.DECLINED
    assert decision.winner is not None and decision.winner.technician_id == "B"


def test_without_coordinates_only_service_points_covering_the_region() -> None:
    decision = decide(job(latitude=None, longitude=None), tech("A", BEIJING), tech("B"))
    assert reason(decision, "A") is Exclusion.OUTSIDE_REGION
    assert decision.winner is not None and decision.winner.technician_id == "B"
    assert decision.score is not None and decision.score.distance_km is None


def test_no_working_time_before_the_due_time() -> None:
    # Due in 3 hours, the technician is on leave today and tomorrow.
    on_leave = WorkingHours.parse(ZONE, "mon-sun 00:00-24:00", "2026-11-25..2026-11-26")
    decision = decide(job(), tech("A", hours=on_leave))
    assert reason(decision, "A") is Exclusion.NO_WORKING_TIME_BEFORE_DUE


def test_too_far_to_arrive_before_the_due_time() -> None:
    # Beijing to Shanghai at 40 km/h takes a day; the job is due in 3 hours.
    decision = decide(job(), tech("A", BEIJING))
    assert reason(decision, "A") is Exclusion.NO_WORKING_TIME_BEFORE_DUE


def test_daily_limit_reached() -> None:
    decision = decide(job(), tech("A"), loads={"A": {TODAY: 3}})
    assert reason(decision, "A") is Exclusion.DAILY_LIMIT_REACHED


def test_full_today_is_planned_for_the_next_day_when_due_allows() -> None:
    decision = decide(
        job(arrival_due_at=NOW + timedelta(days=2)), tech("A"), loads={"A": {TODAY: 3}}
    )
    assert decision.score is not None and decision.score.planned_day == TODAY + timedelta(days=1)


def test_request_at_night_is_assigned_now_for_the_next_shift() -> None:
    night = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    due = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 12:00 next day
    decision = choose(job(arrival_due_at=due), [tech("A", hours=OFFICE)], {}, night, 40.0, TODAY)
    assert decision.winner is not None and decision.score is not None
    assert decision.score.planned_day == date(2026, 11, 26)
    arrival = decision.score.earliest_arrival
    assert arrival.astimezone(OFFICE.zone).hour == 9  # leaves at 09:00, a few minutes away


def test_nearest_wins_over_less_loaded() -> None:
    decision = decide(job(), tech("FAR", SONGJIANG), tech("NEAR"), loads={"NEAR": {TODAY: 2}})
    assert decision.winner is not None and decision.winner.technician_id == "NEAR"
    assert reason(decision, "FAR") is Exclusion.FARTHER_THAN_WINNER
    assert decision.score is not None and decision.score.load_that_day == 2


def test_equal_distance_goes_to_the_least_loaded_then_the_lowest_id() -> None:
    loaded = decide(job(), tech("A"), tech("B"), loads={"A": {TODAY: 1}})
    assert loaded.winner is not None and loaded.winner.technician_id == "B"
    even = decide(job(), tech("B"), tech("A"))
    assert even.winner is not None and even.winner.technician_id == "A"


def test_equal_distance_and_load_goes_to_the_earliest_arrival() -> None:
    later = WorkingHours.parse(ZONE, "mon-sun 14:00-20:00")
    decision = decide(
        job(arrival_due_at=NOW + timedelta(hours=8)), tech("A", hours=later), tech("B")
    )
    assert decision.winner is not None and decision.winner.technician_id == "B"


def test_explanation_lists_candidates_exclusions_and_the_winners_score() -> None:
    decision = decide(job(), tech("A"), tech("B", active=False), tech("C", SONGJIANG))
    explained = decision.explanation()
    assert explained["winner"] == "A"
    assert explained["exclusions"] == {"farther_than_winner": 1, "inactive": 1}
    assert explained["candidates_considered"] == 3
    score = explained["score"]
    assert isinstance(score, dict)
    assert set(score) == {
        "distance_km", "travel_minutes", "load_that_day", "max_jobs_per_day", "planned_day",
        "earliest_arrival", "urgent", "last_slot_kept_for_urgent_on",
    }  # fmt: skip


def test_urgent_jobs_come_before_ordinary_ones_then_the_earliest_due() -> None:
    created = NOW
    waiting = {
        "ordinary-soon": queue_order(False, NOW + timedelta(hours=1), created),
        "urgent-late": queue_order(True, NOW + timedelta(hours=5), created),
        "urgent-soon": queue_order(True, NOW + timedelta(hours=2), created),
        "ordinary-no-due": queue_order(False, None, created),
    }
    assert sorted(waiting, key=waiting.__getitem__) == [
        "urgent-soon", "urgent-late", "ordinary-soon", "ordinary-no-due",
    ]  # fmt: skip


def test_a_job_already_overdue_still_gets_the_nearest_technician() -> None:
    decision = decide(job(arrival_due_at=NOW - timedelta(hours=1)), tech("A", hours=OFFICE))
    assert decision.winner is not None and decision.score is not None
    assert decision.score.planned_day == TODAY


def test_a_home_point_without_coordinates_comes_after_the_located_ones() -> None:
    unplaced = Base("SP-X", None, None, frozenset({"上海"}))
    decision = decide(job(), tech("A", unplaced), tech("B", SONGJIANG))
    assert decision.winner is not None and decision.winner.technician_id == "B"
    alone = decide(job(), tech("A", unplaced))
    assert alone.winner is not None and alone.score is not None
    assert alone.score.distance_km is None and alone.score.travel_minutes == 0


def test_a_shortlist_widens_when_it_cannot_decide() -> None:
    near = [tech(f"N{n:02d}") for n in range(5)]
    far = [tech(f"F{n:02d}", SONGJIANG) for n in range(5)]
    needs = job()
    ranking = rank(needs, [*near, *far], TODAY)
    full = {t.technician_id: {TODAY: 3} for t in near}
    # The nearest three are full: the shortlist of three cannot decide.
    assert choose_nearest(needs, ranking, 3, full, NOW, 40.0).needs_more
    # A tie on distance running past the shortlist: look further too.
    assert choose_nearest(needs, ranking, 3, {}, NOW, 40.0).needs_more
    settled = choose_nearest(needs, ranking, 5, {}, NOW, 40.0)
    assert not settled.needs_more and settled.decision.winner is not None
    assert settled.decision.reasons == {"farther_than_winner": 5}
    assert settled.decision.explanation()["candidates_considered"] == 10
    widened = choose_nearest(needs, ranking, 10, full, NOW, 40.0).decision
    assert widened.winner is not None and widened.winner.technician_id == "F00"


def test_an_explanation_lists_the_nearest_thirty_and_counts_all() -> None:
    many = [tech(f"T{n:03d}", active=n % 2 == 0) for n in range(80)]
    explained = decide(job(), *many).explanation()
    assert explained["candidates_considered"] == 80
    assert len(explained["candidates"]) == 30  # type: ignore[arg-type]
    assert explained["exclusions"] == {"inactive": 40}


# Urgent before ordinary where capacity is scarce: a day's last free slot is kept for urgent.


def test_an_ordinary_job_leaves_todays_last_slot_when_tomorrow_still_fits() -> None:
    needs = job(arrival_due_at=NOW + timedelta(days=2))
    decision = decide(needs, tech("A"), loads={"A": {TODAY: 2}})  # 2 of 3: one slot left
    assert decision.score is not None
    assert decision.score.planned_day == TODAY + timedelta(days=1)
    # The explanation says why not today.
    score = decision.explanation()["score"]
    assert score["last_slot_kept_for_urgent_on"] == [TODAY.isoformat()]  # type: ignore[index]


def test_an_urgent_job_takes_todays_last_slot() -> None:
    needs = job(urgent=True, arrival_due_at=NOW + timedelta(days=2))
    decision = decide(needs, tech("A"), loads={"A": {TODAY: 2}})
    assert decision.score is not None and decision.score.planned_day == TODAY
    assert decision.score.kept_for_urgent == ()


def test_an_ordinary_job_takes_the_last_slot_when_nothing_later_meets_its_due_time() -> None:
    decision = decide(job(), tech("A"), loads={"A": {TODAY: 2}})  # due in 3 hours
    assert decision.winner is not None and decision.score is not None
    assert decision.score.planned_day == TODAY


def test_an_ordinary_job_without_a_due_time_waits_for_a_day_with_room() -> None:
    loads = {"A": {TODAY: 2, TODAY + timedelta(days=1): 2}}
    decision = decide(job(arrival_due_at=None), tech("A"), loads=loads)
    assert decision.score is not None
    assert decision.score.planned_day == TODAY + timedelta(days=2)


def test_with_one_job_a_day_every_slot_is_the_last_and_the_earliest_is_taken() -> None:
    decision = decide(job(arrival_due_at=None), tech("A", max_jobs_per_day=1))
    assert decision.score is not None and decision.score.planned_day == TODAY
