"""Training: the Brain base, checkpoints, several processes, hparams checks, schedules, samplers and class weights."""
