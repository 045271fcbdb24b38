"""FIFO-Diffusion maths: the queue schedule, windows, per-frame step, frame-indexed noise and cost."""
import pytest
import torch

from tfv_core import fifo as F

SHAPES = [(f, n) for f in (2, 3, 4, 5, 16) for n in (1, 2, 4)]


@pytest.mark.parametrize("f,n", SHAPES)
@pytest.mark.parametrize("lookahead", [True, False])
def test_windows_tile_the_queue_once(f, n, lookahead):
    p, big_n = F.prefix_length(f, lookahead), F.num_steps(f, n)
    ws = F.windows(f, n, lookahead)
    assert len(ws) == (2 * n if lookahead else n)
    owner = [0] * (p + big_n)
    for w in ws:
        assert w.stop - w.start == f and 0 <= w.start <= w.update < w.stop <= p + big_n
        for e in range(w.update, w.stop):
            owner[e] += 1
    assert owner == [0] * p + [1] * big_n                      # prefix never written, each slot once
    if lookahead:
        sizes = [w.stop - w.update for w in ws]
        assert sizes == [-(-f // 2), f // 2] * n               # each window updates only its noisier half
    else:
        assert all(w.update == w.start for w in ws)


def test_lookahead_windows_match_the_paper_for_even_f():
    """f = 16, n = 4: window r starts at r*f/2 and updates its second half (slots r*8+8 .. r*8+16)."""
    ws = F.windows(16, 4, True)
    assert [(w.start, w.update, w.stop) for w in ws] == [(8 * r, 8 * r + 8, 8 * r + 16) for r in range(8)]
    assert F.prefix_length(16, True) == 8


def test_slot_levels_come_from_the_schedule():
    sigmas = torch.tensor([14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.0])    # N = 6 = f*n with f = 3, n = 2
    lv, lvn = F.levels(sigmas, 3, 2)
    assert lv.tolist() == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 14.6])    # head lowest, tail = sigma_max
    assert lvn.tolist() == pytest.approx([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])    # each slot steps one level down
    s = F.slot_sigmas(lv, 0.03, 1)
    assert s.tolist() == pytest.approx([0.03, 0.5, 1.0, 2.0, 4.0, 8.0, 14.6])
    with pytest.raises(ValueError, match="needs 7 sigmas"):
        F.levels(sigmas[:-1], 3, 2)


@pytest.mark.parametrize("start,given,keep", [(F.GENERATE, 0, True), (F.CONTINUE, 5, True), (F.CONTINUE, 30, False)])
@pytest.mark.parametrize("lookahead", [True, False])
def test_every_frame_visits_every_level_once_in_order(start, given, keep, lookahead):
    f, n, frames = 4, 3, 20
    plan = F.Plan(f, n, lookahead, start, frames if not keep else frames + given, given, keep)
    big_n, p = plan.steps, plan.prefix
    sigmas = torch.linspace(10, 0, big_n + 1)
    lv, lvn = F.levels(sigmas, f, n)
    visits, dequeued = {}, []
    for t in range(plan.iterations):
        for j in range(big_n):
            s = plan.frame(t, p + j)
            visits.setdefault(s, []).append((float(lv[j]), float(lvn[j])))
            if t + 1 < plan.iterations:                          # the shift moves every frame one slot down
                assert plan.frame(t + 1, p + j - 1) == s
        dequeued.append(plan.frame(t, p))
    full = [(float(a), float(b)) for a, b in zip(sigmas[:-1], sigmas[1:])]
    entered_at_tail = [s for s in visits if s > plan.frame(0, p + big_n - 1)]
    assert len(entered_at_tail) >= frames
    out_frames = range(plan.new_start, plan.out_start + plan.num_frames)
    for s in out_frames:
        assert s in entered_at_tail or s <= plan.frame(0, p + big_n - 1)
        if s in entered_at_tail:
            assert visits[s] == full                             # sigma_max ... 0, each once, in order
        else:                                                    # in the first queue: its levels from its slot down
            assert visits[s] == full[len(full) - len(visits[s]):]
    assert dequeued[-1] == plan.out_start + plan.num_frames - 1  # the run ends with the last output frame
    assert set(out_frames) <= set(dequeued)


def test_warmup_lengths():
    gen = F.Plan(16, 4, True, F.GENERATE, 100, 0, True)
    assert gen.iterations == 100 + 64 - 16                       # official: L + N - f, first N - f discarded
    assert gen.frame(64 - 16, gen.prefix) == 0                   # first kept frame leaves at t = N - f
    assert gen.frame(0, gen.prefix + 63) == 15                   # base clip frames 0..f-1 in the top f slots
    cont = F.Plan(16, 4, True, F.CONTINUE, 100, 20, True)
    assert cont.frame(0, cont.prefix + 63) == 19 and cont.iterations == 100 - 20 + 64
    assert cont.frame(64, cont.prefix) == 20                     # first new frame leaves after N iterations
    drop = F.Plan(16, 4, False, F.CONTINUE, 100, 20, False)
    assert drop.out_start == 20 and drop.iterations == 100 + 64 and drop.prefix == 0


def test_eta_zero_step_is_euler_and_ancestral_steps_keep_the_marginals():
    g = torch.Generator().manual_seed(0)
    x, d = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    sigma, nxt = torch.tensor([[3.0], [2.0], [1.0], [0.5]]), torch.tensor([[2.0], [1.0], [0.5], [0.0]])
    euler = x + (x - d) / sigma * (nxt - sigma)
    assert torch.allclose(F.ancestral_step(x, d, sigma, nxt, 0.0), euler)
    flow_sigma, flow_next = sigma / 4, nxt / 4
    flow_euler = x + (x - d) / flow_sigma * (flow_next - flow_sigma)
    tiny_eta = F.ancestral_step(x, d, flow_sigma, flow_next, 1e-9, torch.randn(4, 3, generator=g), flow=True)
    assert torch.allclose(tiny_eta, flow_euler, atol=1e-5)       # the RF-ancestral step tends to Euler
    # EPS: x = sigma*z with denoised 0 stays N(0, sigma_next^2) for any eta
    z = torch.randn(200000, generator=g)
    for eta in (0.5, 1.0):
        out = F.ancestral_step(3.0 * z, torch.zeros_like(z), torch.tensor(3.0), torch.tensor(1.5), eta,
                               torch.randn(200000, generator=g))
        assert out.std().item() == pytest.approx(1.5, rel=0.01)
    # flow: x = sigma*z + (1-sigma)*x0 with the exact x0 stays at the next level's marginal
    x0 = 2.0
    out = F.ancestral_step(0.8 * z + 0.2 * x0, torch.full_like(z, x0), torch.tensor(0.8), torch.tensor(0.5), 1.0,
                           torch.randn(200000, generator=g), flow=True)
    assert out.mean().item() == pytest.approx(0.5 * x0, abs=0.01) and out.std().item() == pytest.approx(0.5, rel=0.01)
    last = F.ancestral_step(x[3:], d[3:], sigma[3:], nxt[3:], 1.0, torch.randn(1, 3))
    assert torch.allclose(last, d[3:], atol=1e-6)                  # the last step lands on the denoised frame


def test_frame_noise_depends_only_on_seed_stream_frame_level():
    a = F.frame_noise(7, F.ENTRY, 100, 0, (1, 4, 8, 8))
    assert torch.equal(a, F.frame_noise(7, F.ENTRY, 100, 0, (1, 4, 8, 8)))
    others = [F.frame_noise(8, F.ENTRY, 100, 0, (1, 4, 8, 8)), F.frame_noise(7, F.STEP, 100, 0, (1, 4, 8, 8)),
              F.frame_noise(7, F.ENTRY, 101, 0, (1, 4, 8, 8)), F.frame_noise(7, F.ENTRY, 100, 1, (1, 4, 8, 8)),
              F.frame_noise(7, F.ENTRY, -100, 0, (1, 4, 8, 8))]
    for o in others:
        assert not torch.allclose(a, o)
    assert abs(a.mean().item()) < 0.2 and a.std().item() == pytest.approx(1.0, abs=0.2)


def test_cost_formulas():
    c = F.cost(16, 4)
    assert c == {"steps": 64, "windows_per_step": 8, "calls_per_frame": 8, "frames_per_call": 32,
                 "frame_evals_per_frame": 256, "warmup_iterations": 48, "base_calls": 64, "queue_frames": 72}
    cont = F.cost(16, 4, start=F.CONTINUE)
    assert cont["warmup_iterations"] == 64 and cont["base_calls"] == 0
    assert F.cost(16, 4, cfg=False)["frames_per_call"] == 16
    assert F.cost(16, 4, windows_per_call=3)["calls_per_frame"] == 3                # ceil(8 / 3)
    assert F.cost(16, 4, windows_per_call=99)["calls_per_frame"] == 1
    assert F.cost(16, 4, windows_per_call=99, cfg=False)["frames_per_call"] == 128
    no_ld = F.cost(16, 4, lookahead=False, cfg=False)
    assert no_ld["calls_per_frame"] == 4 and no_ld["frame_evals_per_frame"] == 64 and no_ld["queue_frames"] == 64


def test_schedule_index_is_by_absolute_frame():
    starts = [0, 100, 100, 250]
    assert [F.schedule_index(starts, k) for k in (-5, 0, 99, 100, 249, 250, 10 ** 6)] == [1, 1, 1, 3, 3, 4, 4]
    assert F.schedule_index([10], 3) == 0                       # before the first start: the sampler's positive


def test_check_rejects_bad_settings():
    assert F.check(16, 4, 100, 1, F.GENERATE, 0, True) == ""
    assert "window_frames must be at least 2" in F.check(1, 4, 100, 1, F.GENERATE, 0, True)
    assert "partitions" in F.check(16, 0, 100, 1, F.GENERATE, 0, True)
    assert "num_frames" in F.check(16, 4, 0, 1, F.GENERATE, 0, True)
    assert "windows_per_call" in F.check(16, 4, 10, 0, F.GENERATE, 0, True)
    assert "more than 30" in F.check(16, 4, 30, 1, F.CONTINUE, 30, True)
    assert F.check(16, 4, 30, 1, F.CONTINUE, 30, False) == ""


def test_memory_output_grows_with_the_length_the_queue_does_not():
    a = F.memory(16, 4, True, 1, 100, 0, frame_bytes=1000, out_frame_bytes=500)
    b = F.memory(16, 4, True, 1, 100000, 0, frame_bytes=1000, out_frame_bytes=500)
    assert a["output"] == 100 * 500 and b["output"] == 100000 * 500
    assert a["working"] == b["working"]
    # queue + snapshot (64 + 8 each), base clip (16), one window per call: 16 frames x (4 + 2 x 2 with CFG)
    assert a["working"] == (2 * 72 + 16 + 16 * 8) * 1000
    assert F.memory(16, 4, True, 1, 100, 0, 1000, 500, cfg=False)["working"] == (2 * 72 + 16 + 16 * 6) * 1000
    more = F.memory(16, 4, True, 99, 100, 0, 1000, 500)["working"]                # 8 windows per call at most
    assert more == (2 * 72 + 16 + 8 * 16 * 8) * 1000
    assert F.memory(16, 4, True, 1, 100, 40, 1000, 500)["working"] == a["working"] + 40 * 1000


def test_max_frames_and_size_text():
    assert F.max_frames(10_500, 500, 100) == 100 and F.max_frames(100, 500, 100) == 0
    assert F.size_text(512) == "512 bytes" and F.size_text(1536) == "1.5 KB"
    assert F.size_text(65536000000) == "61.0 GB" and F.size_text(5 * 1024 ** 4) == "5.0 TB"
