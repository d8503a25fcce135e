// Differentiable ops on Variables: one header per op family; this one pulls them all in.
#pragma once
#include "kun/autograd/attention.h"
#include "kun/autograd/conv.h"
#include "kun/autograd/elementwise.h"
#include "kun/autograd/index.h"
#include "kun/autograd/linalg.h"
#include "kun/autograd/loss.h"
#include "kun/autograd/norm.h"
#include "kun/autograd/reduce.h"
#include "kun/autograd/rnn.h"
#include "kun/autograd/shape.h"
#include "kun/autograd/variable.h"
#include "kun/autograd/view.h"
