"""bench.contention: the competitor really occupies the cores, and the measurement pairs runs."""

import os
import time

import pytest

from bench import contention


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("own_session", [False, True])
def test_competitor_burns_cpu_while_running_and_is_gone_after(own_session):
    with contention.Competitor(own_session) as c:
        pid = c.proc.pid
        assert (os.getsid(pid) != os.getsid(0)) == own_session
        deadline = time.monotonic() + 10
        while _cpu_seconds(pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cpu_seconds(pid) >= 0.5                  # busy, however loaded the machine is
    assert c.proc.poll() is not None


def test_measure_reports_quiet_and_loaded_medians_and_their_ratio():
    calls = []
    figures = contention.measure(lambda: calls.append(sum(range(300000))), reps=2)
    assert len(calls) == 1 + 2 * 2                      # warm-up, then a quiet and a loaded call per rep
    assert len(figures["quiet_all_ms"]) == len(figures["loaded_all_ms"]) == 2
    assert figures["ratio"] == pytest.approx(figures["loaded_ms"] / figures["quiet_ms"], rel=0.02)
