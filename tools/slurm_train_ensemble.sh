#!/usr/bin/env bash
# Train a deep ensemble as a Slurm array, one task (one GPU) per member,
# then write the ensemble config in a job that waits for the whole array.
#   [GPUS_PER_MEMBER=1] [CPUS_PER_TASK=5] [SBATCH_ARGS=...] \
#   bash tools/slurm_train_ensemble.sh PARTITION JOB_NAME CONFIG NUM_MEMBERS \
#       WORK_DIR [train_ensemble.py args ...]
set -e

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
NUM_MEMBERS=$4
WORK_DIR=$5
GPUS_PER_MEMBER=${GPUS_PER_MEMBER:-1}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SBATCH_ARGS=${SBATCH_ARGS:-""}
PY_ARGS=${@:6}
TOOL="$(cd "$(dirname "$0")" && pwd)/train_ensemble.py"
PY=${PYTHON:-python}
COMMON="$CONFIG --num-members $NUM_MEMBERS --work-dir $WORK_DIR --quiet"

ARRAY=$(sbatch --parsable -p ${PARTITION} --job-name=${JOB_NAME} \
    --array=0-$((NUM_MEMBERS - 1)) --gres=gpu:${GPUS_PER_MEMBER} \
    --ntasks=1 --cpus-per-task=${CPUS_PER_TASK} ${SBATCH_ARGS} \
    --wrap="$PY -u $TOOL $COMMON --gpus-per-member $GPUS_PER_MEMBER --member \$SLURM_ARRAY_TASK_ID ${PY_ARGS}")
sbatch --parsable -p ${PARTITION} --job-name=${JOB_NAME}-collect \
    --dependency=afterok:${ARRAY} --ntasks=1 ${SBATCH_ARGS} \
    --wrap="$PY -u $TOOL $COMMON --collect ${PY_ARGS}"
echo "members: array job ${ARRAY}; ${WORK_DIR}/ensemble.py once all succeed"
