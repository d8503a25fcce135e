// kun speech: audio I/O, features matching torchaudio, augmentation, CTC, datasets, the model pipeline.
#pragma once
#include "kun/apps/speech/audio.h"
#include "kun/apps/speech/augment.h"
#include "kun/apps/speech/ctc.h"
#include "kun/apps/speech/datasets.h"
#include "kun/apps/speech/features.h"
#include "kun/apps/speech/pipeline.h"
