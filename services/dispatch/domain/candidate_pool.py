"""The technicians who could take jobs needing one skill, arranged once so that ranking a
job among them costs per service point rather than per technician.

``rank`` (domain.assignment) checks every candidate against the job and sorts them all,
nearest first: about a thousand rule checks and a sort of a thousand for every assignment.
Most of that does not depend on the job. Whether a technician is active, certified on the
day and has the skill is kept per (day, skill); the technicians of each home point are kept
in id order. Per job only each point's distance is computed (technicians share few points),
the points are sorted, and each point's technicians follow in their kept order; points at
the same distance have their technicians merged by id, as the sort would. The rules that
depend on the job (declined it; outside its region where a distance is unknown) are checked
per technician only where they can exclude anyone.

``CandidatePool.rank`` returns exactly what ``rank`` returns for the pool's candidates, in
the same order (tests compare the two over many random jobs and technicians).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import overload

from services.dispatch.domain.assignment import (
    Base,
    Candidate,
    Considered,
    Exclusion,
    JobNeeds,
    Ranking,
    great_circle_kms,
    job_exclusion,
    nearness,
    rank,
    standing_exclusion,
)

# (day, skill) pairs whose standing a pool keeps; then it starts again (days go by).
REMEMBERED_DAYS = 8


@dataclass(frozen=True)
class _Point:
    # ``rank`` measures a point's distance from the base of its first candidate.
    base: Base
    # Candidate positions in technician id order (then list order, as a stable sort).
    members: tuple[int, ...]
    # Every member's base has coordinates: for a located job, region never excludes here.
    located: bool


@dataclass(frozen=True)
class _Standing:
    """The pool on one day, for jobs needing one skill: what holds whatever the job."""

    # (position, reason) of those excluded, in list order.
    excluded: tuple[tuple[int, Exclusion], ...]
    # How many for each reason, reasons in the order first met.
    reasons: dict[str, int]
    # Per point (the pool's order): the positions of those who pass, in id order.
    passing: tuple[tuple[int, ...], ...]
    # How many pass.
    count: int


Entry = tuple[float, float | None, Candidate]


class _NearestFirst(Sequence[Entry]):
    """The passing candidates nearest first, as ``rank`` sorts them, built only as far as
    they are read: a decision usually reads the nearest few dozen of a thousand."""

    def __init__(self, runs: Iterator[list[Entry]], length: int) -> None:
        self._runs = runs
        self._built: list[Entry] = []
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step < 0:
                self._build_to(self._length)
                return self._built[index]
            # Bounds taken against the whole length (not what is built so far): with a
            # positive step they are 0 <= start, stop <= length.
            self._build_to(stop)
            return self._built[start:stop:step]
        if index < 0:
            index += self._length
            if index < 0:
                raise IndexError("candidate index out of range")
        self._build_to(index + 1)
        return self._built[index]

    def __iter__(self) -> Iterator[Entry]:
        self._build_to(self._length)
        return iter(self._built)

    def _build_to(self, stop: int) -> None:
        built = self._built
        while len(built) < stop:
            run = next(self._runs, None)
            if run is None:
                return
            built.extend(run)


class CandidatePool:
    """Built once per candidate list (the list is cached per process, see db.staff)."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates: tuple[Candidate, ...] = tuple(candidates)
        by_point: dict[str, list[int]] = {}
        for position, candidate in enumerate(self.candidates):
            by_point.setdefault(candidate.base.service_point_id, []).append(position)
        self._points: tuple[_Point, ...] = tuple(
            _Point(
                base=self.candidates[positions[0]].base,
                members=tuple(
                    sorted(positions, key=lambda p: (self.candidates[p].technician_id, p))
                ),
                located=all(self.candidates[p].base.latitude is not None for p in positions),
            )
            for positions in by_point.values()
        )
        self._places = [(point.base.latitude, point.base.longitude) for point in self._points]
        self._point_of: list[int] = [0] * len(self.candidates)
        for index, point in enumerate(self._points):
            for position in point.members:
                self._point_of[position] = index
        self._by_id: dict[str, list[int]] = {}
        for position, candidate in enumerate(self.candidates):
            self._by_id.setdefault(candidate.technician_id, []).append(position)
        self._standing: dict[tuple[date, str | None], _Standing] = {}

    def __len__(self) -> int:
        return len(self.candidates)

    def find(self, technician_id: str) -> Candidate | None:
        positions = self._by_id.get(technician_id)
        return None if not positions else self.candidates[positions[0]]

    def rank(self, job: JobNeeds, today: date) -> Ranking:
        """``rank(job, pool.candidates, today)``, at the cost of the pool's points."""
        standing = self._standing_on(today, job.skill)
        candidates, points = self.candidates, self._points
        if job.latitude is None or job.longitude is None:
            distances: list[float | None] = [None] * len(points)
        else:
            distances = great_circle_kms(job.latitude, job.longitude, self._places)
        by_job = self._excluded_by_job(job, standing) if job.region or job.declined_by else {}

        excluded_positions: Sequence[tuple[int, Exclusion]] = standing.excluded
        if by_job:
            excluded_positions = sorted([*standing.excluded, *by_job.items()])
        point_of = self._point_of
        excluded = [
            Considered(
                candidates[position].technician_id,
                candidates[position].name,
                distances[point_of[position]],
                reason,
            )
            for position, reason in excluded_positions
        ]

        near = [nearness(job, distance) for distance in distances]
        if any(value != value for value in near):
            # A NaN coordinate: no order to reproduce but the sort's own.
            return rank(job, candidates, today)
        order = sorted(range(len(points)), key=near.__getitem__)
        passing = _NearestFirst(
            self._runs(order, near, distances, standing, by_job), standing.count - len(by_job)
        )
        return Ranking(excluded, passing, None if by_job else standing.reasons)

    def _runs(
        self,
        order: list[int],
        near: list[float],
        distances: list[float | None],
        standing: _Standing,
        by_job: dict[int, Exclusion],
    ) -> Iterator[list[Entry]]:
        """The passing candidates of each distance in turn, nearest first."""
        candidates, point_of = self.candidates, self._point_of
        for key, run in itertools.groupby(order, near.__getitem__):
            indexes = list(run)
            if len(indexes) == 1:
                members: Sequence[int] = standing.passing[indexes[0]]
            else:
                # Points at the same distance: their technicians merged in id order.
                members = list(
                    heapq.merge(
                        *(standing.passing[index] for index in indexes),
                        key=lambda p: (candidates[p].technician_id, p),
                    )
                )
            yield [
                (key, distances[point_of[position]], candidates[position])
                for position in members
                if position not in by_job
            ]

    def _standing_on(self, today: date, skill: str | None) -> _Standing:
        key = (today, skill)
        standing = self._standing.get(key)
        if standing is not None:
            return standing
        reasons = [standing_exclusion(c, today, skill) for c in self.candidates]
        excluded = tuple(
            (position, reason) for position, reason in enumerate(reasons) if reason is not None
        )
        counted: dict[str, int] = {}
        for _position, reason in excluded:
            counted[reason.value] = counted.get(reason.value, 0) + 1
        passing = tuple(
            tuple(p for p in point.members if reasons[p] is None) for point in self._points
        )
        standing = _Standing(excluded, counted, passing, sum(map(len, passing)))
        if len(self._standing) >= REMEMBERED_DAYS:
            self._standing.clear()
        self._standing[key] = standing
        return standing

    def _excluded_by_job(self, job: JobNeeds, standing: _Standing) -> dict[int, Exclusion]:
        """Positions of those who pass the standing rules but not the job's own."""
        found: dict[int, Exclusion] = {}
        points_to_check: set[int] = set()
        if job.region:
            # Region only excludes where a distance is unknown: a job without coordinates,
            # or a home point without them.
            points_to_check.update(
                index
                for index, point in enumerate(self._points)
                if job.latitude is None or not point.located
            )
        for technician_id in job.declined_by:
            for position in self._by_id.get(technician_id, ()):
                points_to_check.add(self._point_of[position])
        for index in points_to_check:
            for position in standing.passing[index]:
                reason = job_exclusion(job, self.candidates[position])
                if reason is not None:
                    found[position] = reason
        return found
