#!/usr/bin/env bash
# One command of a lent GPU session: benchmarks, or a piece of training that stops in time to bring
# its weights back. See docs/models.md, "With a GPU".
#
#   here, once:  deblur synth --pack .gpu/sources --sources ~/.cache/deblur/sources   # 44 MB of JPEGs
#   there:       bash benchmarks/gpu_session.sh SECONDS [bench] [train MODEL [STEPS] [-- more train options]]
#                bash benchmarks/gpu_session.sh SECONDS speed     # inference speed only, speed.txt
#                bash benchmarks/gpu_session.sh SECONDS compile   # torch.compile, compile.txt
#                bash benchmarks/gpu_session.sh SECONDS run       # whole deblur runs and info --estimate's figure, run.txt (carry .gpu/wheels)
#                (device tool: carry [".gpu"]; `bench train dstnet` does both in one command;
#                `speed` and `compile` need no .gpu)
#
# SECONDS is the wall time the command may take (the device tool's limit, less a margin): every
# benchmark step is cut to what is left of it, and skipped, saying so, when nothing is. `speed`
# (three to four minutes) writes speed.txt: DSTNet with several windows per call, as CUDA graph
# replays and with cuDNN's algorithm search, `deblur run`'s restore path with 1 to 8 windows per
# call (profiled, and with uint8 frames on the GPU and in host memory), the DSTNet and WTSA operator
# profiles and bench_norms.py. `bench` is `speed`, then train-bench.txt:
# bench_train.py's split of a training step into data synthesis and optimiser step at two batch
# sizes (which says whether the GPU or the CPU sets the pace). The full speed figures are in
# docs/dstnet.md and docs/wtsa.md. `train` trains MODEL in .gpurun/MODEL:
# it resumes the run there when the machine is still warm from the previous piece, otherwise starts
# from .gpu/MODEL.safetensors when an earlier session brought one back (carried with .gpu), from the
# bundled weights for dstnet-s, or from scratch. Training stops 40 s before SECONDS are up; the export
# (float16, what `deblur run --weights` reads) and log.csv go to $OUT either way.
#
# The GPU machine has torch but not PyAV; training needs no codec. Nothing is installed there: the
# package runs from the working tree. Settings below were chosen for an H100/H200 with 16 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# < 2)); then
    sed -n '2,26p' "$0" >&2
    exit 2
fi
budget=$1 job=$2
shift 2
end=$(($(date +%s) + budget))
export PYTHONPATH=$PWD
out=${OUT:-.gpurun/out}
mkdir -p "$out"
cache=.gpucache/sources
# the photos the training benchmarks and training synthesise from; `speed` and `compile` need none
if [[ $job == bench || $job == train ]] && [[ ! -d $cache ]]; then
    python3 -m deblur_cli synth --unpack .gpu/sources --sources "$cache"
fi
left() { echo $((end - $(date +%s))); }

# Run "$@" for at most $1 seconds and never past this command's budget, which a device command must
# not overrun (what it wrote so far still comes back); a step there is no time for is skipped, saying so.
within() {
    local limit=$1 remaining
    shift
    remaining=$(($(left) - 5))
    if ((remaining < 15)); then
        echo "skipped, the budget is spent: $*"
        return 0
    fi
    timeout $((limit < remaining ? limit : remaining)) "$@" || echo "exit $?: $*"
}

# the inference speed benchmarks of issues 3 and 6 (dstnet, wtsa): no photos needed
speed() {
    {
        nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
        python3 -c 'import torch; print("torch", torch.__version__)'
        # what issue 3's 100 fps may need: several windows per call (deblur run --batch), no kernel
        # launches by the host (a CUDA graph's replays) and cuDNN's own algorithm search; most telling first
        # and the per-pixel filter's fused Triton kernel (checked against the PyTorch path first)
        within 90 python3 benchmarks/bench_dstnet.py --variant dstnet --device cuda --dtype bfloat16 \
            --frames 30 --repeat 3 --fused-filter
        for extra in "--batch 4 --cuda-graph" "--batch 4 --cuda-graph --fused-filter" "--batch 4" "--cuda-graph" \
            "--batch 8 --cuda-graph" "--cudnn-benchmark" "--batch 4 --cudnn-benchmark"; do
            # shellcheck disable=SC2086
            within 60 python3 benchmarks/bench_dstnet.py --variant dstnet --device cuda --dtype bfloat16 \
                --frames 30 --repeat 3 --no-check $extra
        done
        # the same through deblur run's restore path (windows of 30, blending), 1 to 8 windows per call;
        # then where its wall time went (GPU running kernels, the host's parts of the path)
        within 150 python3 benchmarks/bench_stream.py --variant dstnet --device cuda --dtype bfloat16 \
            --window 30 --frames 240 --batch 1 4 8 --profile
        DEBLUR_FUSED_FILTER=1 within 60 python3 benchmarks/bench_stream.py --variant dstnet --device cuda \
            --dtype bfloat16 --window 30 --frames 120 --batch 1
        # the frames as deblur run hands them over (uint8 on the GPU), and left in host memory (the grey
        # tests then read nothing back; each call's windows are uploaded): what those reads cost
        for source in device-uint8 host-uint8; do
            within 60 python3 benchmarks/bench_stream.py --variant dstnet --device cuda --dtype bfloat16 \
                --window 30 --frames 120 --batch 1 --source "$source" --profile
        done
        # where the time goes, operator by operator
        within 100 python3 benchmarks/bench_dstnet.py --variant dstnet --device cuda --dtype bfloat16 \
            --frames 10 --repeat 2 --profile
        within 100 python3 benchmarks/bench_wtsa.py --variant wtsa --device cuda --precision bf16 \
            --steps 4 --profile
        within 40 python3 benchmarks/bench_norms.py  # WTSA's norms against plain passes over memory
    } 2>&1 | grep -v '^USDT' | tee "$out/speed.txt"
}

# speed, then how fast training steps and clip synthesis are on the GPU
bench() {
    speed
    {
        for model in dstnet-s dstnet; do
            for batch in 8 32; do
                within 60 python3 benchmarks/bench_train.py --model "$model" --sources "$cache" --crop 256 \
                    --frames 5 --batch "$batch" --precision bf16 --repeat 5
            done
        done
        within 60 python3 benchmarks/bench_train.py --model dstnet-s --sources "$cache" --crop 256 --frames 5 \
            --batch 16 --precision bf16 --repeat 2 --gpu-synthesis
    } 2>&1 | grep -v '^USDT' | tee "$out/train-bench.txt"
}

# torch.compile of the models (their eager figures are in speed.txt): minutes of compiling, so not
# in speed. The restore path's run reuses the first run's compiled kernels (Inductor's disk cache).
compiled() {
    {
        within 200 python3 benchmarks/bench_dstnet.py --variant dstnet --device cuda --dtype bfloat16 \
            --frames 30 --repeat 3 --no-check --compile
        within 120 python3 benchmarks/bench_stream.py --variant dstnet --device cuda --dtype bfloat16 \
            --window 30 --frames 120 --batch 1 --compile --profile
        within 300 python3 benchmarks/bench_wtsa.py --variant wtsa --device cuda --precision bf16 \
            --steps 4 --compile
    } 2>&1 | grep -v '^USDT' | tee "$out/compile.txt"
}

# a whole deblur run (decoding, restore path, encoding) on a generated 720p clip: the machine has no
# PyAV, so the wheel carried in .gpu/wheels is installed into .gpurun/site first (here, once:
# pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64
# "av>=17.1,<20" -d .gpu/wheels, 35 MB)
runs() {
    {
        if ! python3 -c 'import av' 2>/dev/null; then
            wheel=$(find .gpu/wheels -name 'av-*.whl' 2>/dev/null | head -1)
            if [[ -z $wheel ]]; then
                echo "run: no PyAV here and no wheel in .gpu/wheels"
                return
            fi
            python3 -m zipfile -e "$wheel" .gpurun/site  # a wheel is a zip of what site-packages holds
            export PYTHONPATH=$PWD/.gpurun/site:$PYTHONPATH
        fi
        within 240 python3 benchmarks/bench_run.py --model dstnet --device cuda --precision bf16 \
            --size 1280x720 --frames 240 --variants default pageable no-scene-cuts batch4
        # info --estimate's figure on the GPU against the restore path (bundled weights, no PyAV needed)
        within 60 python3 benchmarks/bench_estimate.py --model dstnet-s --device cuda --sizes 1280x720,1920x1080 \
            --frames 60
    } 2>&1 | grep -v '^USDT' | tee "$out/run.txt"
}

train() {
    model=${1:?which model}
    shift
    steps=4000
    if [[ ${1:-} =~ ^[0-9]+$ ]]; then
        steps=$1
        shift
    fi
    if [[ ${1:-} == -- ]]; then
        shift
    fi
    run=.gpurun/$model
    common=(--sources "$cache" --out "$run" --steps "$steps" --save-every 100 --val-every 500 --quiet)
    if [[ -f $run/last.pt ]]; then
        start=(--resume)
    else
        case $model in
        dstnet) shape=(--crop 256 --frames 5 --batch 8 --echo 2 --lr 4e-4 --warmup 300) ;;
        dstnet-s) shape=(--crop 256 --frames 5 --batch 16 --echo 4 --lr 2e-4 --warmup 200) ;;
        wtsa | wtsa-s) shape=(--crop 128 --frames 6 --batch 8 --echo 2 --lr 3e-4 --warmup 300 --prior dstnet-s) ;;
        *)
            echo "unknown model $model" >&2
            exit 2
            ;;
        esac
        start=(--model "$model" "${shape[@]}")
        if [[ -f .gpu/$model.safetensors ]]; then
            start+=(--init ".gpu/$model.safetensors")
        elif [[ $model == dstnet-s ]]; then
            start+=(--init deblur_cli/weights/bundled/dstnet-s.safetensors)
        fi
    fi
    # loader workers synthesise on the CPU cores, unless the options ask for --gpu-synthesis
    # (bench's bench_train lines say which is faster); either way it is given again on --resume
    synth=(--workers 15)
    for option in "$@"; do
        [[ $option == --gpu-synthesis ]] && synth=()
    done
    status=0
    timeout -s INT $(($(left) - 40)) python3 -m deblur_cli train "${start[@]}" "${common[@]}" "${synth[@]}" "$@" || status=$?
    cp "$run/$model.safetensors" "$run/log.csv" "$out/" 2>/dev/null || echo "no export yet in $run"
    tail -n 3 "$run/log.csv" 2>/dev/null || true
    echo "train exit $status (124 or 130: stopped by the time limit, which is expected)"
}

case $job in
bench)
    bench
    if [[ ${1:-} == train ]]; then
        shift
        train "$@"
    fi
    ;;
train) train "$@" ;;
speed) speed ;;
compile) compiled ;;
run) runs ;;
*)
    echo "unknown job $job: speed, bench, compile, run or train" >&2
    exit 2
    ;;
esac
