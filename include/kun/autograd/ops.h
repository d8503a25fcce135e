// Differentiable ops on Variables: one header per op family; this one pulls them all in.
#pragma once
#include "kun/autograd/elementwise.h"
#include "kun/autograd/loss.h"
#include "kun/autograd/reduce.h"
#include "kun/autograd/variable.h"
