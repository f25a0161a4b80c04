#!/usr/bin/env bash
# Folder inference split across processes with torchrun: each image is
# processed once, and the first process writes summary.json and report.html.
#   bash tools/dist_infer.sh CONFIG GPUS [CHECKPOINT] INPUT ... --out-dir DIR
#       [infer.py args ...]
# Environment as tools/dist_train.sh (NNODES, NODE_RANK, PORT, MASTER_ADDR,
# PYTHON). On GPUs add --device cuda: process k uses cuda:LOCAL_RANK.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
${PYTHON:-python} -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/infer.py \
    $CONFIG ${@:3} \
    --launcher pytorch
