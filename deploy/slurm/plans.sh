#!/bin/bash
#SBATCH --job-name=revplan
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
revplan batch scenarios --out "results/shard-$SLURM_ARRAY_TASK_ID" \
  --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
  --threads "$SLURM_CPUS_PER_TASK" --resume
