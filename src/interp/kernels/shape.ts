/** @fileoverview shape kernels (to be filled). */
export {};
