// The whole public API of kun.
#pragma once
#include "kun/autograd/gradcheck.h"
#include "kun/autograd/ops.h"
#include "kun/autograd/variable.h"
#include "kun/core/dtype.h"
#include "kun/core/error.h"
#include "kun/core/rng.h"
#include "kun/core/shape.h"
#include "kun/core/threading.h"
#include "kun/tensor/ops.h"
#include "kun/tensor/tensor.h"
