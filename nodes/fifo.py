"""FIFO-Diffusion (Kim et al., NeurIPS 2024, arXiv:2405.11473): arbitrarily long video from a short-clip
model by diagonal denoising, with latent partitioning and lookahead; the queue's memory does not grow with the
length (the output does)."""
import torch
from comfy_api.latest import io
from einops import rearrange

import comfy.model_sampling
import comfy.patcher_extension as pe
import comfy.samplers

from . import host
from .core import fifo as F
from .core.layout import from_btchw, to_btchw

NODE = "FIFO-Diffusion Sampler"
SCHEDULE_NODE = "FIFO Prompt Schedule"
CATEGORY = "training-free-video/fifo"
KEY = "tfv_fifo"
ScheduleType = io.Custom("TFV_PROMPT_SCHEDULE")


def prompt_key(i: int) -> str:
    return "positive" if i == 0 else f"positive_{i}"


class FIFOGuider(comfy.samplers.CFGGuider):
    """CFG with one positive per prompt of the schedule; `prompt` selects the one the next call uses."""

    def __init__(self, model, prompts, negative, cfg):
        super().__init__(model)
        self.inner_set_conds({"negative": negative, **{prompt_key(i): c for i, c in enumerate(prompts)}})
        self.set_cfg(cfg)
        self.prompt = 0

    def predict_noise(self, x, timestep, model_options={}, seed=None):
        return comfy.samplers.sampling_function(self.inner_model, x, timestep, self.conds.get("negative"),
                                                self.conds[prompt_key(self.prompt)], self.cfg,
                                                model_options=model_options, seed=seed)


def window_clips_wrapper(f: int):
    """APPLY_MODEL wrapper for frames-in-batch models: when several f-frame windows share a call, list one
    cond_or_uncond entry per window, so models that take the clip length as batch / chunks see f-frame clips
    (AnimateDiff-Evolved and SVD take it from the f-frame latent the sampler was started with)."""
    def wrapper(executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={}, **kwargs):
        chunks = transformer_options.get("cond_or_uncond", [0])
        per = x.shape[0] // len(chunks)
        if per > f and per % f == 0:
            reps = per // f
            transformer_options = {**transformer_options, "cond_or_uncond": [c for c in chunks for _ in range(reps)]}
            if "uuids" in transformer_options:
                transformer_options["uuids"] = [u for u in transformer_options["uuids"] for _ in range(reps)]
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
    return wrapper


class FrameSigmas:
    """DIFFUSION_MODEL wrapper for 5D models (experimental): ComfyUI gives one sigma per video (here the
    window's noisiest frame); the network gets one timestep per latent frame [B, T], its input is rescaled
    per frame, and its output re-expressed so that ComfyUI's per-video denoising yields each frame's own
    denoised estimate (model_sampling's input and denoising maps are affine, so this is exact)."""

    def __init__(self, model_sampling):
        self.ms = model_sampling
        self.ref = self.per_frame = None

    def set(self, ref: torch.Tensor, per_frame: torch.Tensor):
        self.ref, self.per_frame = ref, per_frame                 # [V], [V, T]

    def coefficients(self, sigma: torch.Tensor):
        """(a, b, c) with denoised = a*x + b*model_output and model input = c*x, per sigma."""
        one = torch.ones(sigma.numel(), 1, device=sigma.device)
        zero = torch.zeros_like(one)
        s = sigma.flatten()
        return (self.ms.calculate_denoised(s, zero, one).reshape(sigma.shape),
                self.ms.calculate_denoised(s, one, zero).reshape(sigma.shape),
                self.ms.calculate_input(s, one).reshape(sigma.shape))

    def __call__(self, executor, xc, t, *args, **kwargs):
        reps = xc.shape[0] // self.ref.shape[0]
        ref = self.ref.to(xc.device).repeat(reps)
        per = self.per_frame.to(xc.device).repeat(reps, 1)
        a_r, b_r, c_r = (v.view(-1, 1, 1, 1, 1) for v in self.coefficients(ref))
        a_f, b_f, c_f = (v[:, None, :, None, None] for v in self.coefficients(per))
        x = xc.float() / c_r
        t_frames = self.ms.timestep(per.flatten()).reshape(per.shape).float()
        out = executor((x * c_f).to(xc.dtype), t_frames, *args, **kwargs).float()
        return ((a_f - a_r) * x + b_f * out) / b_r


class FIFORun:
    """One FIFO-Diffusion run, used as a KSAMPLER function: the whole run happens inside one CFGGuider.sample
    on an f-frame window latent, so the model is loaded once, model wrappers (AnimateDiff-Evolved's motion
    module) are active, and clip-length-aware models see f-frame clips. Holds the only latent buffers: the
    queue and its snapshot (P + N frames each), the output, and per call the windows' input and output."""

    def __init__(self, plan, model, guider, layout, latent, seed, eta, windows_per_call, starts,
                 frame_sigmas=None, window_order=None, probe=None):
        self.plan, self.guider, self.layout, self.seed, self.eta = plan, guider, layout, seed, eta
        self.ms, self.fmt = host.model_sampling(model), host.latent_format(model)
        self.flow = isinstance(self.ms, comfy.model_sampling.CONST)
        self.starts, self.frame_sigmas, self.probe = starts, frame_sigmas, probe
        self.windows = (window_order or list)(F.windows(plan.f, plan.n, plan.lookahead))
        self.per_call = windows_per_call
        video = to_btchw(latent, layout)                               # [B, T, C, H, W]
        self.frame_shape = (video.shape[0],) + tuple(video.shape[2:])
        self.given = video if plan.start == F.CONTINUE else None
        self.out = torch.zeros((video.shape[0], plan.num_frames) + tuple(video.shape[2:]), dtype=latent.dtype,
                               device=host.output_device())
        if plan.start == F.CONTINUE and plan.keep_given:
            self.out[:, :plan.given] = video
        ticks = plan.iterations + (plan.steps if plan.start == F.GENERATE else 0)
        self.progress = host.Progress(ticks, model)
        self.q = self.x = None

    def noise(self, stream, frame, level=0):
        return F.frame_noise(self.seed, stream, frame, level, self.frame_shape).to(self.device)

    def sample(self, model, x, sigmas, extra_args=None, callback=None, disable=None):
        self.model, self.extra, self.device = model, extra_args or {}, x.device
        p = self.plan
        lv, lvn = (v.to(x.device) for v in F.levels(sigmas.float().cpu(), p.f, p.n))
        self.S = F.slot_sigmas(lv, float(self.ms.sigma_min), p.prefix)
        self.Sn = torch.cat([lv.new_zeros(p.prefix), lvn])
        self.max_denoise = F.is_max_denoise(float(sigmas[0]), float(self.ms.sigma_max))
        if self.given is not None:
            self.given = to_btchw(self.fmt.process_in(from_btchw(self.given, self.layout).float()), self.layout)
        base = self.base_clip(sigmas.float().to(x.device)) if p.start == F.GENERATE else None
        self.q = torch.zeros((self.frame_shape[0], p.prefix + p.steps) + self.frame_shape[1:], device=x.device)
        self.x = torch.zeros_like(self.q)
        self.fill(0, base)
        del base
        for t in range(p.iterations):
            self.iterate(t)
            if self.probe is not None:
                self.probe(self, t)
        return x

    def base_clip(self, sigmas):
        """Generate mode: an f-frame clip from the same model, schedule, eta and prompts (per frame)."""
        f = self.plan.f
        z = torch.stack([self.noise(F.BASE_ENTRY, i) for i in range(f)], 1)
        x = self.ms.noise_scaling(sigmas[0], z, torch.zeros_like(z), self.max_denoise)
        for i in range(len(sigmas) - 1):
            d = self.denoise(x, [F.Window(0, f, 0)], [sigmas[i].expand(f)], [list(range(f))])[0]
            noise = torch.stack([self.noise(F.BASE_STEP, k, i) for k in range(f)], 1) if self.eta > 0 else None
            x = F.ancestral_step(x, d, sigmas[i], sigmas[i + 1], self.eta, noise, self.flow)
            self.progress.update(1)
        return x

    def fill(self, t, base=None):
        """Forward-noise source frames into their slots: generate fills the first queue from the base clip
        (slots below it get copies of its first frame); continue pins the given frames at every iteration
        (replacement: the new frames are denoised next to the given ones at matching noise levels)."""
        p = self.plan
        for e in range(p.prefix + p.steps):
            s = p.frame(t, e)
            if base is not None:
                src = base[:, min(max(s, 0), p.f - 1)]
            elif p.start == F.CONTINUE and s < p.given:
                src = self.given[:, max(s, 0)].to(self.device)
            else:
                break
            self.q[:, e] = src if e < p.prefix else self.ms.noise_scaling(self.S[e], self.noise(F.ENTRY, s), src)

    def iterate(self, t):
        p = self.plan
        if p.start == F.CONTINUE and t > 0:
            self.fill(t)
        self.x.copy_(self.q)                          # snapshot: every window reads the pre-iteration state
        for i in range(0, len(self.windows), self.per_call):
            group = self.windows[i:i + self.per_call]
            d = self.denoise(self.x, group, [self.S[w.start:w.stop] for w in group],
                             [[p.frame(t, e) for e in range(w.start, w.stop)] for w in group])
            for w, dw in zip(group, d):
                self.update(t, w, dw)
        self.emit(t, self.q[:, p.prefix])
        self.x[:, :-1] = self.q[:, 1:]                # shift: the head leaves, lookahead keeps it as context
        tail = self.noise(F.ENTRY, p.frame(t + 1, p.prefix + p.steps - 1))   # pure noise enters the tail
        self.x[:, -1] = self.ms.noise_scaling(self.S[-1], tail, torch.zeros_like(tail), self.max_denoise)
        self.q, self.x = self.x, self.q

    def update(self, t, w, d):
        """Diagonal step of the slots window w owns, each from its own level to the next lower one."""
        u, p = slice(w.update, w.stop), self.plan
        noise = None
        if self.eta > 0:
            noise = torch.stack([self.noise(F.STEP, p.frame(t, e), e - p.prefix) for e in range(w.update, w.stop)], 1)
        view = (1, -1, 1, 1, 1)
        self.q[:, u] = F.ancestral_step(self.x[:, u], d[:, w.update - w.start:], self.S[u].view(view),
                                        self.Sn[u].view(view), self.eta, noise, self.flow)

    def denoise(self, src, group, sigmas, frames):
        """Denoised estimates [B, f, C, H, W] of the windows in `group` read from src [B, L, C, H, W], in one
        model call per prompt among their frames (each frame keeps the prompt of its absolute index)."""
        sig = torch.stack(list(sigmas))                                  # [w, f]
        pid = torch.tensor([[F.schedule_index(self.starts, s) for s in fr] for fr in frames], device=sig.device)
        xs = torch.stack([src[:, w.start:w.stop] for w in group])         # [w, B, f, C, H, W]
        videos = xs.shape[1]
        if self.layout.is_5d:
            xin, sigma = rearrange(xs, "n b t c h w -> (n b) c t h w"), sig.amax(1).repeat_interleave(videos)
            self.frame_sigmas.set(sigma, sig.repeat_interleave(videos, 0))
        else:
            xin, sigma = rearrange(xs, "n b t c h w -> (n b t) c h w"), sig.flatten()
        out = None
        for prompt in pid.unique().tolist():
            host.check_cancel()
            self.guider.prompt = prompt
            d = self.model(xin, sigma, **self.extra)
            if self.layout.is_5d:
                d = rearrange(d, "(n b) c t h w -> n b t c h w", b=videos)
            else:
                d = rearrange(d, "(n b t) c h w -> n b t c h w", b=videos, t=sig.shape[1])
            out = d if out is None else torch.where((pid == prompt)[:, None, :, None, None, None], d, out)
        return out

    def emit(self, t, head):
        """The head is clean now: write it to the output if it is one of the requested new frames."""
        p = self.plan
        s = p.frame(t, p.prefix)
        x0 = from_btchw(head[:, None], self.layout)
        if s >= p.new_start and 0 <= s - p.out_start < p.num_frames:
            self.out[:, s - p.out_start] = to_btchw(self.fmt.process_out(x0), self.layout)[:, 0].to(self.out)
        self.progress.update(1, x0)


def check_model(model, layout):
    """Frames-in-batch models take one sigma per frame natively; a 5D model's network must take one timestep
    per frame (host.per_frame_timesteps: Wan 2.1/2.2 text-to-video, or a network that declares it)."""
    if not layout.is_5d:
        return
    if host.per_frame_timesteps(model):
        host.notice("fifo_5d", f"{NODE}: per-frame timesteps on a 5D model are experimental.")
        return
    host.fail(NODE, f"model: {type(model.model).__name__} is a 5D video model whose network takes one timestep per "
                    "video, but FIFO-Diffusion needs one per frame. Supported: frames-in-batch models "
                    "(AnimateDiff-Evolved, SD-style UNets with temporal layers) and, experimental, Wan 2.1 / 2.2 "
                    "text-to-video (5D). Image-to-video Wan models are not supported.")


def check_memory(model, plan, layout, samples, per_call, cfg):
    """Refuse a run whose latent buffers (output and working, core.fifo.memory) cannot fit in the memory left
    on their devices: the output lives on ComfyUI's output device, the queue on the model's."""
    frame_elems = samples.numel() // layout.frames                     # one frame of every video
    per_frame = frame_elems * samples.element_size()                   # in the output's dtype
    chw = [samples.shape[1], *samples.shape[-2:]]
    out_dev, work_dev = torch.device(host.output_device()), torch.device(model.load_device)
    need = F.memory(plan.f, plan.n, plan.lookahead, per_call, plan.num_frames,
                    plan.given if plan.start == F.CONTINUE else 0, frame_elems * 4, per_frame, cfg != 1)
    shared = out_dev == work_dev
    out_free = host.memory_limit(out_dev)
    work_free = out_free if shared else host.memory_limit(work_dev)
    work_left = need["working"] if shared else 0
    if need["output"] + work_left > out_free:
        fits = F.max_frames(out_free, work_left, per_frame)
        host.fail(NODE, f"num_frames: {plan.num_frames} frames of {chw} latents need "
                        f"{F.size_text(need['output'])} for the output (it grows with num_frames; the queue does "
                        f"not) plus {F.size_text(need['working'])} of working memory, but only "
                        f"{F.size_text(out_free)} is free on {out_dev.type}: lower num_frames (at most {fits} fit "
                        "now) or make the latent smaller, or free memory.")
    if not shared and need["working"] > work_free:
        host.fail(NODE, f"windows_per_call: the queue and the windows of one model call need "
                        f"{F.size_text(need['working'])} on {work_dev.type}, which has {F.size_text(work_free)}: "
                        "lower windows_per_call, window_frames or partitions, or make the latent smaller.")


def fifo_sample(model, positive, negative, latent, seed=0, num_frames=100, window_frames=16, partitions=4,
                lookahead=True, windows_per_call=1, cfg=7.5, eta=1.0, scheduler="normal", start=F.GENERATE,
                keep_given_frames=True, prompt_schedule=None, window_order=None, probe=None):
    """Check every input, then run FIFO-Diffusion; returns a LATENT of num_frames frames in the input's layout.
    window_order (reorders one iteration's windows) and probe (called as probe(run, t) after each iteration)
    are for tests and benchmarks."""
    samples = host.as_sampled(model, latent["samples"])
    layout = host.video_layout(model, samples, NODE, name="latent")
    check_model(model, layout)
    if "noise_mask" in latent:
        host.fail(NODE, "latent: this latent has a noise mask (Set Latent Noise Mask), which FIFO-Diffusion cannot "
                        "use: remove the mask; to extend a video use start = continue.")
    empty = not bool(torch.count_nonzero(samples))
    if start == F.GENERATE and not empty:
        host.fail(NODE, "start: generate makes the video from noise and uses the latent only for its size, but "
                        "this latent is not empty: choose start = continue to extend it, or use an empty latent.")
    if start == F.CONTINUE and empty:
        host.fail(NODE, "start: continue extends the video in the latent, but the latent is empty: connect the "
                        "VAE-encoded frames to extend, or choose start = generate.")
    plan = F.Plan(window_frames, partitions, lookahead, start, num_frames,
                  layout.frames if start == F.CONTINUE else 0, keep_given_frames)
    problem = F.check(window_frames, partitions, num_frames, windows_per_call, start, plan.given, keep_given_frames)
    if problem:
        host.fail(NODE, problem)
    if scheduler not in comfy.samplers.SCHEDULER_NAMES:
        host.fail(NODE, f"scheduler: unknown scheduler {scheduler!r}: choose one of "
                        f"{', '.join(comfy.samplers.SCHEDULER_NAMES)}.")
    sigmas = comfy.samplers.calculate_sigmas(host.model_sampling(model), scheduler, plan.steps).float().cpu()
    if len(sigmas) != plan.steps + 1 or float(sigmas[-1]) != 0 or not bool((sigmas[:-1] > sigmas[1:]).all()):
        host.fail(NODE, f"scheduler: the {scheduler!r} scheduler does not give {plan.steps} distinct decreasing noise "
                        "levels ending at 0 for this model: choose normal, simple or sgm_uniform.")
    entries = list(prompt_schedule or ())
    per_call = min(windows_per_call, len(F.windows(plan.f, plan.n, plan.lookahead)))
    check_memory(model, plan, layout, samples, per_call, cfg)

    m = host.own_loop(model, "FIFO-Diffusion")
    frame_sigmas = None
    if layout.is_5d:
        frame_sigmas = FrameSigmas(host.model_sampling(m))
        m.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, KEY, frame_sigmas)
    else:
        m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, KEY, window_clips_wrapper(plan.f))
    guider = FIFOGuider(m, [positive] + [c for _, c in entries], negative, cfg)
    run = FIFORun(plan, m, guider, layout, samples, seed, eta, per_call, [s for s, _ in entries],
                  frame_sigmas, window_order, probe)
    b, c, h, w = run.frame_shape
    clip = torch.zeros(per_call * b, c, plan.f, h, w) if layout.is_5d else torch.zeros(plan.f, c, h, w)
    guider.sample(torch.zeros_like(clip), clip, comfy.samplers.KSAMPLER(run.sample), sigmas, seed=seed,
                  disable_pbar=True)
    return {"samples": from_btchw(run.out, layout)}


class FIFOSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_FIFOSampler",
            display_name=NODE,
            category=CATEGORY,
            description="FIFO-Diffusion (NeurIPS 2024): a video of any length from a short-clip model. A queue of "
                        "f*n frames at rising noise levels is denoised diagonally; each iteration a clean frame "
                        "leaves the head and fresh noise enters the tail. The queue's memory does not grow with the "
                        "length; the output latent does (num_frames frames, checked against free memory before "
                        "any work). Steps = window_frames x partitions.",
            inputs=[
                io.Model.Input("model", tooltip="A video model: AnimateDiff-Evolved (frames in the batch) or, "
                                                "experimental, Wan 2.1 / 2.2 text-to-video (5D)."),
                io.Conditioning.Input("positive", tooltip="The prompt; a prompt schedule overrides it from its "
                                                          "first start frame on."),
                io.Conditioning.Input("negative", tooltip="The negative prompt (unconditional pass of CFG)."),
                io.Latent.Input("latent", tooltip="generate: an empty video latent (at least 2 frames) that sets "
                                                  "size and layout; num_frames, not its frame count, sets the "
                                                  "length. continue: the encoded video to extend."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                             tooltip="Frame k's noise depends only on the seed and k, so batching choices and the "
                                     "output length do not change the frames."),
                io.Int.Input("num_frames", default=100, min=1, max=1000000,
                             tooltip="Frames in the output latent (continue + keep: including the given frames)."),
                io.Int.Input("window_frames", default=16, min=2, max=512,
                             tooltip="f: frames per model call, the model's clip length (16 for AnimateDiff; for "
                                     "Wan, latent frames). Steps = f x partitions."),
                io.Int.Input("partitions", default=4, min=1, max=64,
                             tooltip="n: latent partitioning splits the queue into n blocks of f frames, so one "
                                     "model call sees a narrower range of noise levels. Steps = f x n (paper: 4)."),
                io.Boolean.Input("lookahead", default=True,
                                 tooltip="Lookahead denoising: 2n overlapping windows per step, each updating only "
                                         "its noisier half, so frames see cleaner frames ahead. Better quality, "
                                         "twice the model calls (paper default: on)."),
                io.Int.Input("windows_per_call", default=1, min=1, max=128,
                             tooltip="Windows of one step batched into one model call: faster, more memory. "
                                     "The result does not change. Values above the windows per step (2n or n) "
                                     "batch them all."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale; 1 skips the negative pass (half the work)."),
                io.Float.Input("eta", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Sampler noise: 0 = deterministic DDIM (Euler), 1 = ancestral (the paper's "
                                       "DDIM eta = 1)."),
                io.Combo.Input("scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="normal",
                               tooltip="Spacing of the f x n noise levels, from the model's own schedule "
                                       "(normal is close to the paper's uniform DDIM timesteps)."),
                io.Combo.Input("start", options=[F.GENERATE, F.CONTINUE], default=F.GENERATE,
                               tooltip="generate: a base clip from this model is forward-noised into the queue and "
                                       "the f x n - f warm-up frames are discarded (as in the paper). continue: the "
                                       "latent's frames seed the queue and the new frames extend them."),
                io.Boolean.Input("keep_given_frames", default=True,
                                 tooltip="continue only: start the output with the given frames (unchanged), or "
                                         "output only the new frames."),
                ScheduleType.Input("prompt_schedule", optional=True,
                                   tooltip="From FIFO Prompt Schedule: prompts by absolute frame index; each frame "
                                           "keeps its prompt all the way through the queue."),
            ],
            outputs=[io.Latent.Output(tooltip="The video latent: exactly num_frames frames, in the input's layout.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent, seed, num_frames, window_frames, partitions, lookahead,
                windows_per_call, cfg, eta, scheduler, start, keep_given_frames, prompt_schedule=None):
        host.check_inputs(cls, locals())
        return io.NodeOutput(fifo_sample(model, positive, negative, latent, seed, num_frames, window_frames,
                                         partitions, lookahead, windows_per_call, cfg, eta, scheduler, start,
                                         keep_given_frames, prompt_schedule))


SLOTS = 4


class FIFOPromptSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        inputs = []
        for i in range(1, SLOTS + 1):
            inputs += [
                io.Conditioning.Input(f"conditioning_{i}", optional=i > 1,
                                      tooltip=f"Prompt {i}: applies from from_frame_{i} until the next prompt's "
                                              "start frame."),
                io.Int.Input(f"from_frame_{i}", default=(i - 1) * 32, min=0, max=1000000,
                             tooltip=f"Absolute index of the first frame that uses prompt {i} (counted from the "
                                     "first output frame; continue: from the first given frame)."),
            ]
        inputs.append(ScheduleType.Input("previous", optional=True,
                                         tooltip="Chain another schedule for more prompts; on the same start "
                                                 "frame this node's prompt wins."))
        return io.Schema(
            node_id="TFV_FIFOPromptSchedule",
            display_name=SCHEDULE_NODE,
            category=CATEGORY,
            description="Prompts by absolute frame index for the FIFO-Diffusion Sampler: each frame is conditioned "
                        "by the prompt of its own index when it enters the queue, so a change at frame 100 reaches "
                        "frame 100. Frames before the first start use the sampler's positive prompt.",
            inputs=inputs,
            outputs=[ScheduleType.Output(tooltip="The prompt schedule (connect to prompt_schedule).")],
        )

    @classmethod
    def execute(cls, previous=None, **kwargs):
        host.check_inputs(cls, kwargs)
        entries = list(previous or ())
        for i in range(1, SLOTS + 1):
            if kwargs.get(f"conditioning_{i}") is not None:
                entries.append((kwargs[f"from_frame_{i}"], kwargs[f"conditioning_{i}"]))
        return io.NodeOutput(tuple(sorted(entries, key=lambda e: e[0])))


NODES = [FIFOSampler, FIFOPromptSchedule]
