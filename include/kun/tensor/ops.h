// Tensor-level ops (no autograd). One header per op family; this one pulls them all in.
#pragma once
#include "kun/tensor/ops_conv.h"
#include "kun/tensor/ops_elementwise.h"
#include "kun/tensor/ops_index.h"
#include "kun/tensor/ops_linalg.h"
#include "kun/tensor/ops_loss.h"
#include "kun/tensor/ops_norm.h"
#include "kun/tensor/ops_reduce.h"
#include "kun/tensor/ops_rnn.h"
#include "kun/tensor/ops_shape.h"
