/** @fileoverview control kernels (to be filled). */
export {};
