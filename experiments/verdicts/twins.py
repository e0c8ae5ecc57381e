"""Twin trades: the candidate's and the shadow's trades that took the same signal (same symbol and
side, opened within a tolerance), paired one-to-one, nearest first."""

import heapq

import numpy as np

TOLERANCE_SECONDS = 300
# Vectorised matching rounds before the remaining (adversarial) chains go to the heap.
ROUNDS = 12


def _codes(values_a, values_b):
    """Integer codes of the values of both arms, shared (str or int). A dict, not np.unique: a
    week of a busy bot is tens of thousands of strings of a few dozen pairs, which np.unique
    would sort as Python objects."""
    both = np.concatenate([np.asarray(values_a), np.asarray(values_b)])
    if not len(both):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in both.tolist()), np.int64, len(both)
    )
    return codes[: len(values_a)], codes[len(values_a) :]


def _nearest_round(group, time, arm, line, tolerance):
    """One round of mutual nearest neighbours on the merged, sorted line: each element's nearest
    trade of the other arm in its group, matched where two choose each other. Nearest is by
    (gap, distance on the original line, left first): a strict order on pairs, so the round
    matches exactly what the greedy would match first. Returns (left, right) positions."""
    n = len(time)
    pos = np.arange(n)
    other_left = np.empty(n, np.int64)
    other_right = np.empty(n, np.int64)
    for a in (0, 1):
        # The last element of arm a at or before each position, and the first at or after.
        last = np.maximum.accumulate(np.where(arm == a, pos, -1))
        first = np.minimum.accumulate(np.where(arm == a, pos, n)[::-1])[::-1]
        mine = arm != a
        other_left[mine], other_right[mine] = last[mine], first[mine]
    li, ri = np.clip(other_left, 0, n - 1), np.clip(other_right, 0, n - 1)
    left_gap = np.where((other_left >= 0) & (group[li] == group), time - time[li], np.inf)
    right_gap = np.where((other_right < n) & (group[ri] == group), time[ri] - time, np.inf)
    left_gap[left_gap > tolerance] = np.inf
    right_gap[right_gap > tolerance] = np.inf
    choose_left = (left_gap < right_gap) | (
        (left_gap == right_gap) & (line - line[li] <= line[ri] - line)
    )
    nearest = np.where(choose_left, li, ri)
    has = np.minimum(left_gap, right_gap) < np.inf
    mutual = has & has[nearest] & (nearest[nearest] == pos) & (pos < nearest)
    return pos[mutual], nearest[mutual]


def _heap_rest(group, time, arm, line, tolerance):
    """Greedy nearest-first on what the rounds left (long alternating chains): a linked list of
    the line and a heap of adjacent opposite-arm gaps, O(m log m). The closest remaining pair is
    always adjacent once matched elements are unlinked."""
    n = len(time)
    prev, nxt = list(range(-1, n - 1)), list(range(1, n + 1))
    alive = [True] * n
    heap = []

    def push(i, j):
        if i >= 0 and j < n and arm[i] != arm[j] and group[i] == group[j]:
            gap = time[j] - time[i]
            if gap <= tolerance:
                heapq.heappush(heap, (gap, line[j] - line[i], line[i], i, j))

    for i in range(n - 1):
        push(i, i + 1)
    pairs = []
    while heap:
        *_, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]) or nxt[i] != j:
            continue
        alive[i] = alive[j] = False
        pairs.append((i, j))
        before, after = prev[i], nxt[j]
        if before >= 0:
            nxt[before] = after
        if after < n:
            prev[after] = before
        push(before, after)
    return pairs


def twins(candidate, shadow, *, tolerance_seconds=TOLERANCE_SECONDS):
    """Twin trades: same symbol and side, opened at most `tolerance_seconds` apart (inclusive),
    one-to-one, nearest first: the globally closest pair is matched first, then the closest of
    the rest, and so on. Equal gaps go to the pair with fewer trades of that symbol and side
    opened between them, then to the earlier pair (opening order: time, candidate before
    shadow, then the arm's own order). Each arm is a dict of equal-length arrays with at least
    `symbol`, `side`, `opened_at` (epoch seconds).

    Returns {"candidate": i, "shadow": j} (pair k is candidate[i[k]] with shadow[j[k]]),
    "candidate_only" and "shadow_only" (indices), all int arrays. Sorting by (symbol, side,
    opened_at), then rounds of mutual nearest neighbours on that line, each O(n); what rounds
    leave (only adversarial chains of entries) goes to a heap: O(n log n)."""
    nc, ns = len(candidate["opened_at"]), len(shadow["opened_at"])
    sym_c, sym_s = _codes(candidate["symbol"], shadow["symbol"])
    side_c, side_s = _codes(candidate["side"], shadow["side"])
    sides = int(max(side_c.max(initial=0), side_s.max(initial=0))) + 1
    group = np.concatenate([sym_c * sides + side_c, sym_s * sides + side_s])
    time = np.concatenate(
        [np.asarray(candidate["opened_at"], float), np.asarray(shadow["opened_at"], float)]
    )
    arm = np.concatenate([np.zeros(nc, np.int8), np.ones(ns, np.int8)])
    index = np.concatenate([np.arange(nc), np.arange(ns)])
    order = np.lexsort((index, arm, time, group))
    group, time, arm, index = group[order], time[order], arm[order], index[order]
    line = np.arange(len(time))
    matched_c, matched_s = [], []
    for _ in range(ROUNDS):
        left, right = _nearest_round(group, time, arm, line, tolerance_seconds)
        if not len(left):
            break
        for a, b in ((left, right), (right, left)):
            matched_c.append(index[a][arm[a] == 0])
            matched_s.append(index[b][arm[a] == 0])
        keep = np.ones(len(time), bool)
        keep[left] = keep[right] = False
        group, time, arm, index, line = (x[keep] for x in (group, time, arm, index, line))
    else:
        for i, j in _heap_rest(group, time, arm, line, tolerance_seconds):
            c, s = (i, j) if arm[i] == 0 else (j, i)
            matched_c.append(index[[c]])
            matched_s.append(index[[s]])
    pair_c = np.concatenate(matched_c) if matched_c else np.zeros(0, np.int64)
    pair_s = np.concatenate(matched_s) if matched_s else np.zeros(0, np.int64)
    by_candidate = np.argsort(pair_c, kind="stable")
    pair_c, pair_s = pair_c[by_candidate].astype(np.int64), pair_s[by_candidate].astype(np.int64)
    return {
        "candidate": pair_c,
        "shadow": pair_s,
        "candidate_only": np.setdiff1d(np.arange(nc), pair_c),
        "shadow_only": np.setdiff1d(np.arange(ns), pair_s),
    }
