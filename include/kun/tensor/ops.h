// Tensor-level ops (no autograd). One header per op family; this one pulls them all in.
#pragma once
#include "kun/tensor/ops_elementwise.h"
#include "kun/tensor/ops_loss.h"
#include "kun/tensor/ops_reduce.h"
